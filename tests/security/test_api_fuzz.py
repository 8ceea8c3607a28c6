"""Schemathesis against the merged OpenAPI document, through a gateway, as a signed-in person.

Valid and invalid requests for every public operation: none may answer 5xx, and every answer must be
one the document describes (status, content type, body schema; errors in the common shape). What it
found is kept as regression tests in test_regressions.py.

Bounded: AIC_FUZZ_EXAMPLES examples per operation and way of generating (25 by default), no deadline,
no example database. The gateway is one of the test's own with rate limits out of the way (the limits
have tests of their own), in front of the shared stack's services.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import DataGenerationMethod
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import BaseOpenAPISchema

from aic_common.testing.community import Account, Community, fake_ip

pytestmark = [
    pytest.mark.e2e,
    # Schemathesis 3 on jsonschema 4.18+ and its own deprecated arguments: not ours to act on.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]
schemathesis.experimental.OPEN_API_3_1.enable()  # the services' FastAPI documents are OpenAPI 3.1

EXAMPLES = int(os.environ.get("AIC_FUZZ_EXAMPLES", "25"))
CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance)
UNLIMITED = str(10**6)
# Left out, and why:
EXCLUDED_PATHS = (
    "/api/stream",  # an endless event stream: no response to check
    "/api/auth/logout",  # ends the session whose token the fuzzer uses
    "/api/auth/me/password",  # would change the password, then every later case signs in wrongly
)
EXCLUDED_OPERATIONS = (("DELETE", "/api/auth/me"),)  # deletes the fuzzer's own account


@pytest.fixture(scope="module")
def fuzz_gateway(extra_gateway: Callable[..., contextlib.AbstractContextManager[str]]) -> Iterator[str]:
    names = ("PER_IP", "PER_USER", "LOGIN_PER_IP", "REGISTER_PER_IP")
    limits = {f"AIC_RATE_LIMIT_{name}": UNLIMITED for name in names}
    with extra_gateway(**limits) as url:
        yield url


@pytest.fixture(scope="module")
def fuzzer(fuzz_gateway: str) -> Iterator[Account]:
    with Community(fuzz_gateway) as community:
        yield community.register("fuzzer")


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_gateway: str) -> BaseOpenAPISchema:
    schema = schemathesis.from_uri(
        f"{fuzz_gateway}/api/openapi.json",
        base_url=fuzz_gateway,
        data_generation_methods=[DataGenerationMethod.positive, DataGenerationMethod.negative],
    )
    for path in EXCLUDED_PATHS:
        schema = schema.exclude(path=path)
    for method, path in EXCLUDED_OPERATIONS:
        schema = schema.exclude(method=method, path=path)
    return schema


schema = schemathesis.from_pytest_fixture("fuzz_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_documented_and_none_is_a_server_error(
    case: schemathesis.Case, fuzzer: Account
) -> None:
    headers = {**(case.headers or {}), "Authorization": f"Bearer {fuzzer.access_token}"}
    headers["X-Forwarded-For"] = fake_ip()
    response = case.call(headers=headers, timeout=30)
    if response.status_code == 400 and response.text == "Invalid HTTP request received.":
        return  # uvicorn refused the bytes themselves (a header no HTTP parser takes): the app saw nothing
    case.validate_response(response, checks=CHECKS)
