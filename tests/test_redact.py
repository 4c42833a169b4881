"""The redactor as a reader of a report sees it: no planted secret survives in any shape of text,
the evidence keeps its names (`api_key=***`), harmless flags stay readable, redacting twice
changes nothing more, and inputs built to make a regex backtrack finish (timings live in
bench/bench_redact.py, never here)."""

from __future__ import annotations

import base64
import json
import threading

import pytest

from pytest_cutover.redact import (
    MASK,
    Redactor,
    is_harmless_value,
    is_sensitive_name,
    redact_headers,
    redact_url,
    url_password,
    url_secrets,
)

# Known to the redactor, as load_config collects them from the config and the environment.
KNOWN = {
    "db_password": "pg-Secr3t-pw",
    "bearer": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",
    "admin_token": "adm1n-t0ken-XYZ",
    "marked": "marked-secret-value",
    "env": "from-env-QS_KEY-42",
}
# Never given to the redactor: found by the name or shape they appear in.
CAPTURED = {
    "query": "q5-api-key-0001",
    "corpus_header": "corpusApiKey777",
    "cookie": "sessid=cookie-value-888",
    "url_password": "urlPa55word",
    "json_field": "json-client-secret-9",
    "form": "form-passw0rd-11",
}
SECRETS = [*KNOWN.values(), *CAPTURED.values()]

OUTPUTS = [
    f"connection to postgresql://app:{KNOWN['db_password']}@db:5432/shop failed: "
    f"FATAL: password authentication failed (password {KNOWN['db_password']})",
    f"ROLLBACK FAILED: POST https://lb.internal/split?token={KNOWN['admin_token']} -> 503",
    f"action: rollback helper ran with {KNOWN['marked']} and {KNOWN['env']}",
    f"GET /api/item/1?api_key={CAPTURED['query']}&page=2",
    f"curl -sS -i 'http://new:8080/api/item/1?api_key={CAPTURED['query']}' "
    f"-H 'X-Api-Key: {CAPTURED['corpus_header']}' -H 'Cookie: {CAPTURED['cookie']}' "
    f"-H 'Authorization: {KNOWN['bearer']}' -H 'Accept: application/json'",
    "GET /api/item/1 HTTP/1.1\r\n"
    f"Authorization: {KNOWN['bearer']}\r\nX-Api-Key: {CAPTURED['corpus_header']}\r\n"
    f"Cookie: {CAPTURED['cookie']}\r\nHost: new.example.com\r\n",
    f"driver error: cannot reach https://ops:{CAPTURED['url_password']}@lb.internal:8443/api",
    json.dumps(
        {
            "request": f"GET /api/item/1?api_key={CAPTURED['query']}",
            "body": {"client_secret": CAPTURED["json_field"], "name": "x"},
            "headers": {"Authorization": KNOWN["bearer"], "X-Api-Key": CAPTURED["corpus_header"]},
        }
    ),
    repr({"password": CAPTURED["form"], "user": "bob"}),
    f"username=bob&password={CAPTURED['form']}&remember=true",
    f'DB_PASSWORD="{KNOWN["db_password"]}" API_TOKEN={KNOWN["admin_token"]} ./start.sh',
]


@pytest.fixture
def redactor() -> Redactor:
    return Redactor(KNOWN.values())


@pytest.mark.parametrize("output", OUTPUTS)
def test_no_planted_secret_survives_any_output(redactor: Redactor, output: str) -> None:
    shown = redactor.text(output)
    assert [s for s in SECRETS if s in shown] == []
    assert MASK in shown


def test_no_planted_secret_survives_a_json_document(redactor: Redactor) -> None:
    document = {
        "reasons": [f"POST https://ops:{CAPTURED['url_password']}@lb/split failed"],
        "evidence": {
            "request": {"url": f"/api/item/1?api_key={CAPTURED['query']}"},
            "headers": {"Cookie": CAPTURED["cookie"], "Authorization": KNOWN["bearer"]},
            "auth": {"user": "bob", "password": CAPTURED["form"], "tokens": [KNOWN["marked"]]},
            f"GET /x?access_token={CAPTURED['json_field']}": 3,
        },
    }
    shown = json.dumps(redactor.value(document))
    assert [s for s in SECRETS if s in shown] == []


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("GET /items?api_key=abc123xyz&page=2", "GET /items?api_key=***&page=2"),
        ('{"url": "/x?token=abc123xyz"}', '{"url": "/x?token=***"}'),
        ("Authorization: Bearer abc123xyz", "Authorization: ***"),
        ("X-Api-Key: abc123xyz\nAccept: */*", "X-Api-Key: ***\nAccept: */*"),
        ("Cookie: a=b; session=abc123xyz", "Cookie: ***"),
        ("-H 'Set-Cookie: sid=abc; Path=/' -H 'Accept: x'", "-H 'Set-Cookie: ***' -H 'Accept: x'"),
        ("postgresql://app:abc123xyz@db/x", "postgresql://app:***@db/x"),
        ("redis://:abc123xyz@cache:6379/0", "redis://:***@cache:6379/0"),
        ("mysql://app:p@ss@db/x", "mysql://app:***@db/x"),
        ('{"password": "abc\\"123"}', '{"password": "***"}'),
        ("{'accessToken': 'abc123xyz'}", "{'accessToken': '***'}"),
        ('"API Key": "abc123xyz"', '"API Key": "***"'),
        ('password = "abc123xyz"', 'password = "***"'),
        ("DB_PASSWORD=abc123xyz ./run", "DB_PASSWORD=*** ./run"),
        ("X-Amz-Signature=abc123&X-Amz-Date=20240101", "X-Amz-Signature=***&X-Amz-Date=20240101"),
        ("PHPSESSID=abc123; csrftoken=def456", "PHPSESSID=***; csrftoken=***"),
        ('"Authorization: Bearer abc\\nAccept: x"', '"Authorization: ***\\nAccept: x"'),
    ],
)
def test_masks_keep_the_name_so_the_evidence_stays_readable(text: str, shown: str) -> None:
    assert Redactor().text(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "access-control-allow-credentials: true",
        "Access-Control-Allow-Credentials: true\nAccess-Control-Allow-Headers: Authorization",
        '{"token_type": "bearer", "expires_in": 3600, "token_expires_in": 3600}',
        "auth_method: password",
        '{"withCredentials": true, "has_password": false, "password": null, "secret": ""}',
        '{"password": 12345678, "token": true, "auth_required": "yes"}',
        "api_key=${QS_KEY}&token=$CUTOVER_TOKEN",
        '-H "Authorization: $CUTOVER_AUTHORIZATION"',
        "password_min_length=12 cookie_domain=example.com auth_url=https://auth.example.com/oauth",
        "auth.example.com:8443 and https://token.example.com/api/v1/auth?page=2",
        "WWW-Authenticate: Bearer realm=api",
        "retries: 3, passport=P123456, author=Ann, keyboard=us, sort_key=id, design=flat",
        "assert token == expected_token",
        "password=*** token=*** (already masked)",
        "pin=12 session_count=7 token=off",
    ],
)
def test_harmless_values_and_names_stay_visible(text: str) -> None:
    assert Redactor().text(text) == text


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "pass",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refreshToken",
        "X-CSRF-Token",
        "csrftoken",
        "auth",
        "Authorization",
        "Proxy-Authorization",
        "credentials",
        "X-Amz-Credential",
        "cookie",
        "Set-Cookie",
        "api_key",
        "apiKey",
        "APIKey",
        "X-Api-Key",
        "apikey",
        "private_key",
        "access-key",
        "session",
        "session_id",
        "JSESSIONID",
        "PHPSESSID",
        "signature",
        "sig",
        "bearer",
        "jwt",
        "DB_PASSWORD",
    ],
)
def test_every_secret_name_is_masked_in_every_form(name: str) -> None:
    assert is_sensitive_name(name)
    redactor = Redactor()
    for form in ("{n}=hunter22", '"{n}": "hunter22"', "{n}: hunter22", "'{n}': 'hunter22'"):
        text = form.format(n=name)
        assert redactor.text(text) == text.replace("hunter22", MASK)


@pytest.mark.parametrize(
    "name",
    [
        "token_type",
        "auth_method",
        "access-control-allow-credentials",
        "withCredentials",
        "password_min_length",
        "secretName",
        "author",
        "passport",
        "key",
        "sort_key",
        "WWW-Authenticate",
        "keyboard",
    ],
)
def test_names_that_describe_or_flag_a_secret_are_not_secret(name: str) -> None:
    assert not is_sensitive_name(name)


@pytest.mark.parametrize(
    "value", ["", " ", "true", "False", "null", "yes", "off", "bearer", "7", "443", "***", "${X}"]
)
def test_flags_and_small_numbers_are_harmless(value: str) -> None:
    assert is_harmless_value(value)


@pytest.mark.parametrize("value", ["1234", "hunter2", "Bearer x", "$secret", "${X:-dflt}", "abc"])
def test_anything_else_is_not_harmless(value: str) -> None:
    assert not is_harmless_value(value)


@pytest.mark.parametrize(
    "text", [*OUTPUTS, "a:b@c://d:e@f?token=x&g=h", "Authorization: Bearer x\\nY: z"]
)
def test_redacting_twice_changes_nothing_more(redactor: Redactor, text: str) -> None:
    once = redactor.text(text)
    assert redactor.text(once) == once


def test_redacting_a_document_twice_changes_nothing_more(redactor: Redactor) -> None:
    document = {"a": OUTPUTS, "password": "x1y2z3", "nested": {"auth": {"user": "bob"}}}
    once = redactor.value(document)
    assert redactor.value(once) == once


def test_overlapping_secrets_are_masked_whole() -> None:
    redactor = Redactor(["abcd1234", "abcd1234wxyz", "1234wxyzQRST", "zzzz"])
    assert redactor.text("x abcd1234wxyz y") == f"x {MASK} y"  # one a prefix of the other
    assert redactor.text("x abcd1234wxyzQRST y") == f"x {MASK} y"  # overlap past the end
    assert redactor.text("x abcd1234 y abcd1234wxyz") == f"x {MASK} y {MASK}"
    assert redactor.text("zzzzzzzzzz") == MASK  # a periodic secret in a longer run


def test_many_known_secrets_are_all_masked() -> None:
    """More than the number that gets one search each: the per-first-character tries."""
    secrets = [f"{c}{i:04d}-secret-{i * 7919 % 1000:03d}" for i, c in enumerate("abcdefgh" * 40)]
    secrets += ["a0000-secret-000-and-more", "0000-secret-000-and-more-too"]
    redactor = Redactor(secrets)
    text = " | ".join(f"value {s}!" for s in secrets) + " a0000-secret-000-and-more-too"
    shown = redactor.text(text)
    assert [s for s in secrets if s in shown] == []
    assert shown.count(MASK) == len(secrets) + 1


def test_secrets_added_later_are_masked_from_then_on() -> None:
    redactor = Redactor(["first-secret"])
    assert redactor.text("first-secret later-secret") == f"{MASK} later-secret"
    redactor.add(["later-secret", "Bearer tok3n-only", "true", "abc"])
    assert redactor.text("first-secret later-secret") == f"{MASK} {MASK}"
    assert redactor.text("token tok3n-only was sent") == f"token {MASK} was sent"
    assert redactor.text("true abc") == "true abc"  # harmless and too-short values are ignored


def test_secrets_added_from_other_threads_are_all_masked() -> None:
    redactor = Redactor()
    names = [[f"thread{t}-secret-{i}" for i in range(50)] for t in range(4)]

    def work(batch: list[str]) -> None:
        for secret in batch:
            redactor.add([secret])
            redactor.text(f"sent {secret}")

    threads = [threading.Thread(target=work, args=(batch,)) for batch in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = " ".join(s for batch in names for s in batch)
    assert redactor.text(everything) == " ".join([MASK] * 200)


def test_unicode_text_around_secrets() -> None:
    redactor = Redactor(["pässwörd-ünïcode", "日本語の秘密です"])
    text = "İstanbul ﬀ ß: pässwörd-ünïcode · 日本語の秘密です · token=Ωmega-Ω € api_key=键值键值"
    assert redactor.text(text) == f"İstanbul ﬀ ß: {MASK} · {MASK} · token={MASK} € api_key={MASK}"


def test_very_long_adversarial_inputs_complete() -> None:
    """About 5 MB of the shapes that made the old redactor quadratic: long letter runs, `a:b@`
    fragments, runs of `=`, `://` with no `@`, secret-looking names without values."""
    redactor = Redactor(["planted-secret-1"])
    parts = [
        "a" * 1_000_000,
        "a:b@" * 250_000,
        "=" * 1_000_000,
        "http://" + "x" * 500_000,
        "://u:" + "p" * 500_000,
        "token_type=x;" * 40_000,
        "passwordpassword" * 20_000,
    ]
    text = " ".join(parts) + " planted-secret-1 https://u:pw1234@h/?api_key=abcd"
    shown = redactor.text(text)
    assert shown.endswith(f" {MASK} https://u:{MASK}@h/?api_key={MASK}")
    assert len(shown) == len(text) - len("planted-secret-1pw1234abcd") + 3 * len(MASK)


def test_a_long_header_dump_is_masked_line_by_line() -> None:
    lines = [f"X-Request-Id: {i}\nAuthorization: Bearer t{i:06d}secret" for i in range(50_000)]
    shown = Redactor().text("\n".join(lines))
    assert "secret" not in shown
    assert shown.count("Authorization: ***") == 50_000
    assert "X-Request-Id: 49999" in shown


def test_value_masks_secret_keys_only_for_strings_that_are_not_harmless() -> None:
    redactor = Redactor()
    shown = redactor.value(
        {
            "password": "hunter22",
            "token": True,
            "secret": 1234,
            "api_key": "",
            "auth_method": "password",
            "token_type": "bearer",
            "access-control-allow-credentials": "true",
            "credentials": ["a-b-c-d", "off"],
            "auth": {"user": "bob", "type": "basic"},
            "items": ({"cookie": "x=y1234"}, "plain"),
        }
    )
    assert shown == {
        "password": MASK,
        "token": True,
        "secret": 1234,
        "api_key": "",
        "auth_method": "password",
        "token_type": "bearer",
        "access-control-allow-credentials": "true",
        "credentials": [MASK, "off"],
        "auth": {"user": MASK, "type": "basic"},
        "items": [{"cookie": MASK}, "plain"],
    }


def test_keys_that_differ_only_by_a_secret_stay_separate_entries() -> None:
    shown = Redactor().value({"GET /x?token=aaaa": 1, "GET /x?token=bbbb": 2, "GET /y": 3})
    assert shown == {"GET /x?token=***": 1, "GET /x?token=*** (2)": 2, "GET /y": 3}


def test_redact_url_masks_and_leaves_the_rest_as_written() -> None:
    url = "postgresql://app:s3cret@db/x?password=y&sslmode=require&note=a%20b+c"
    assert redact_url(url) == "postgresql://app:***@db/x?password=***&sslmode=require&note=a%20b+c"
    assert redact_url("https://example.com/a?b=1") == "https://example.com/a?b=1"


def test_redact_headers_keeps_flags_and_scrubs_urls_in_other_headers() -> None:
    headers = {
        "Authorization": "Bearer abc",
        "Access-Control-Allow-Credentials": "true",
        "Location": "https://app/cb?access_token=abc123&state=1",
        "Content-Type": "application/json",
    }
    assert redact_headers(headers) == {
        "Authorization": MASK,
        "Access-Control-Allow-Credentials": "true",
        "Location": "https://app/cb?access_token=***&state=1",
        "Content-Type": "application/json",
    }


def test_url_secrets_are_collected_as_written_and_decoded() -> None:
    url = "https://ops:p%40ss-word@lb/x?access_token=a%2Bb-token&page=2&token=true#id_token=frag1"
    basic = {
        base64.b64encode(b"ops:p%40ss-word").decode(),
        base64.b64encode(b"ops:p@ss-word").decode(),
    }
    written_and_decoded = {"p%40ss-word", "p@ss-word", "a%2Bb-token", "a+b-token", "frag1"}
    assert url_secrets(url) == written_and_decoded | basic
    assert url_password(url) == "p%40ss-word"
    assert url_password("https://ops@lb/x") is None
    shown = Redactor(url_secrets(url)).text("login failed for ops with p@ss-word")
    assert shown == f"login failed for ops with {MASK}"


def test_basic_credentials_from_user_info_are_masked_wherever_they_appear() -> None:
    """A client turns `http://svc:pw@host` into `Authorization: Basic base64(svc:pw)`; a service
    that echoes it in a body or a log line shows it under no secret name."""
    redactor = Redactor(url_secrets("http://svc:s3cr%C3%A9t-pw@new.internal:8080/api"))
    for encoded in ("svc:s3cr\u00e9t-pw".encode(), "svc:s3cr\u00e9t-pw".encode("latin-1")):
        basic = base64.b64encode(encoded).decode()
        shown = redactor.text(f'{{"echo": {{"seen": "Basic {basic}"}}}} and in a log: {basic}')
        assert shown == f'{{"echo": {{"seen": "Basic {MASK}"}}}} and in a log: {MASK}'
    assert url_secrets("http://svc@new.internal/api") == set()  # no password: nothing derived
