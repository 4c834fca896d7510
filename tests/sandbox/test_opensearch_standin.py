"""The OpenSearch stand-in behaves like an FGAC OpenSearch Service domain where logpipe can tell."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import requests
from requests_aws4auth import AWS4Auth

from logpipe.sandbox.opensearch_standin import OpenSearchStandin, is_mutating

MASTER_PASSWORD = "Master-Passw0rd!"
MASTER_AKID = "AKIAMASTER0000000000"
MASTER_ARN = "arn:aws:iam::123456789012:role/opensearch-master"
ADMIN = ("admin", MASTER_PASSWORD)
API = "/_plugins/_security/api"
SO = "/_dashboards/api/saved_objects"
XSRF = {"osd-xsrf": "true"}
REGION = "ap-northeast-2"
WRITER_ARN = "arn:aws:iam::123456789012:role/demogo-firehose"


@pytest.fixture
def new_standin(make_standin: Callable[..., OpenSearchStandin]) -> Callable[..., OpenSearchStandin]:
    """A stand-in with a master user (Basic) and an IAM master (SigV4 with MASTER_AKID)."""

    def new(upstream: str | None = None, **kwargs: Any) -> OpenSearchStandin:
        options = {
            "master_password": MASTER_PASSWORD,
            "master_iam_arn": MASTER_ARN,
            "iam_identities": {MASTER_AKID: MASTER_ARN},
            **kwargs,
        }
        return make_standin(upstream, **options)

    return new


@pytest.fixture
def standin(new_standin: Callable[..., OpenSearchStandin]) -> OpenSearchStandin:
    return new_standin()


def sigv4(access_key: str = MASTER_AKID, service: str = "es") -> AWS4Auth:
    return AWS4Auth(access_key, "secret", REGION, service)


def get_mapping(standin: OpenSearchStandin, role: str) -> dict[str, Any]:
    response = requests.get(f"{standin.url}{API}/rolesmapping/{role}", auth=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()[role]


def patch(standin: OpenSearchStandin, path: str, ops: Any) -> requests.Response:
    return requests.patch(f"{standin.url}{API}/{path}", auth=ADMIN, json=ops)


def make_role(standin: OpenSearchStandin, name: str = "logpipe_writer") -> None:
    body = {
        "cluster_permissions": ["cluster_composite_ops", "cluster_monitor"],
        "index_permissions": [{"index_patterns": ["cwl-*"], "allowed_actions": ["crud", "create_index"]}],
    }
    response = requests.put(f"{standin.url}{API}/roles/{name}", auth=ADMIN, json=body)
    assert response.status_code == 201, response.text


# --------------------------------------------------------------------------- authentication


def test_request_without_credentials_gets_401_with_basic_challenge(standin: OpenSearchStandin) -> None:
    for path in ("/_cat/indices", f"{API}/rolesmapping"):
        response = requests.get(standin.url + path)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Basic realm="OpenSearch Security"'
    dashboards = requests.get(f"{standin.url}{SO}/index-pattern/x")
    assert dashboards.status_code == 401
    assert dashboards.json()["statusCode"] == 401
    assert all(r.target == "standin" and r.principal is None for r in standin.requests)


def test_basic_auth_accepts_only_the_master_password(standin: OpenSearchStandin) -> None:
    assert requests.get(standin.url + "/_cat/indices", auth=("admin", "wrong")).status_code == 401
    assert requests.get(standin.url + "/_cat/indices", auth=("other", MASTER_PASSWORD)).status_code == 401
    assert requests.get(standin.url + "/_cat/indices", auth=ADMIN).status_code == 200


def test_basic_auth_is_refused_when_no_master_password_is_configured(
    new_standin: Callable[..., OpenSearchStandin],
) -> None:
    standin = new_standin(master_password=None)
    assert requests.get(standin.url + "/_cat/indices", auth=("admin", "")).status_code == 401
    assert requests.get(standin.url + "/_cat/indices", auth=sigv4()).status_code == 200


def test_sigv4_signed_requests_are_accepted_and_identify_the_caller(standin: OpenSearchStandin) -> None:
    response = requests.get(f"{standin.url}{API}/account", auth=sigv4())
    assert response.status_code == 200
    account = response.json()
    assert account["user_name"] == MASTER_ARN
    assert account["backend_roles"] == [MASTER_ARN]
    assert {"all_access", "security_manager"} <= set(account["roles"])
    assert standin.requests[-1].principal == MASTER_ARN
    assert standin.requests[-1].auth == "sigv4"


def test_botocore_signed_request_with_session_token_is_accepted(standin: OpenSearchStandin) -> None:
    credentials = botocore.credentials.Credentials(MASTER_AKID, "secret", "session-token")
    request = botocore.awsrequest.AWSRequest(
        method="POST",
        url=f"{standin.url}/_bulk",
        data=b'{"index":{"_index":"cwl-2024.05.01","_id":"a"}}\n{"eventTime":"2024-05-01T00:00:00Z"}\n',
        headers={"Content-Type": "application/x-ndjson"},
    )
    botocore.auth.SigV4Auth(credentials, "es", REGION).add_auth(request)
    prepared = request.prepare()
    response = requests.post(prepared.url, data=prepared.body, headers=dict(prepared.headers))
    assert response.status_code == 200, response.text
    assert response.json()["errors"] is False


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=" + "0" * 64, "'Credential' parameter"),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/2024/us-east-1/es/aws4_request, SignedHeaders=host, Signature="
            + "0" * 64,
            "mal-formed",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/ap-northeast-2/aoss/aws4_request, SignedHeaders=host, "
            "Signature=" + "0" * 64,
            "correct service: 'es'",
        ),
    ],
)
def test_malformed_sigv4_header_is_rejected_with_403(standin: OpenSearchStandin, header: str, message: str) -> None:
    response = requests.get(
        standin.url + "/_cat/indices", headers={"Authorization": header, "X-Amz-Date": "20240101T000000Z"}
    )
    assert response.status_code == 403
    assert message in response.json()["message"]


def test_sigv4_region_is_checked_when_configured(new_standin: Callable[..., OpenSearchStandin]) -> None:
    standin = new_standin(region="us-east-1")
    assert requests.get(standin.url + "/_cat/indices", auth=sigv4()).status_code == 403
    assert requests.get(standin.url + "/_cat/indices", auth=AWS4Auth(MASTER_AKID, "s", "us-east-1", "es")).ok


def test_unmapped_iam_caller_cannot_use_the_security_api_until_mapped(standin: OpenSearchStandin) -> None:
    standin.register_iam_identity("AKIAWRITER", "arn:aws:sts::123456789012:assumed-role/demogo-firehose/s1")
    writer = sigv4("AKIAWRITER")
    account = requests.get(f"{standin.url}{API}/account", auth=writer).json()
    assert account["user_name"] == WRITER_ARN  # assumed-role session ARN normalised to the role ARN
    assert account["roles"] == []
    denied = requests.get(f"{standin.url}{API}/rolesmapping", auth=writer)
    assert denied.status_code == 403
    assert "No permission to access REST API" in denied.json()["message"]

    assert (
        patch(
            standin, "rolesmapping/security_manager", [{"op": "add", "path": "/backend_roles/-", "value": WRITER_ARN}]
        ).status_code
        == 200
    )
    assert requests.get(f"{standin.url}{API}/rolesmapping", auth=writer).status_code == 200


def test_authinfo_reports_the_master_user_and_tenants(new_standin: Callable[..., OpenSearchStandin]) -> None:
    standin = new_standin(multi_tenancy=True)
    info = requests.get(standin.url + "/_plugins/_security/authinfo", auth=ADMIN).json()
    assert info["user_name"] == "admin"
    assert {"all_access", "security_manager"} <= set(info["roles"])
    assert info["tenants"] == {"global_tenant": True, "admin": True}
    tenancy = requests.get(f"{standin.url}{API}/tenancy/config", auth=ADMIN).json()
    assert tenancy["multitenancy_enabled"] is True


# --------------------------------------------------------------------------- role mappings


def test_new_domain_maps_master_user_and_iam_master_to_admin_roles(standin: OpenSearchStandin) -> None:
    mappings = requests.get(f"{standin.url}{API}/rolesmapping", auth=ADMIN).json()
    for role in ("all_access", "security_manager"):
        assert mappings[role] == {
            "hosts": [],
            "users": ["admin"],
            "reserved": False,
            "hidden": False,
            "backend_roles": [MASTER_ARN],
            "and_backend_roles": [],
        }


def test_legacy_opendistro_prefix_serves_the_same_api(standin: OpenSearchStandin) -> None:
    legacy = requests.get(standin.url + "/_opendistro/_security/api/rolesmapping/all_access", auth=ADMIN)
    assert legacy.status_code == 200
    assert legacy.json()["all_access"] == get_mapping(standin, "all_access")


def test_get_of_absent_mapping_is_404(standin: OpenSearchStandin) -> None:
    response = requests.get(f"{standin.url}{API}/rolesmapping/readall", auth=ADMIN)
    assert response.status_code == 404
    assert response.json() == {"status": "NOT_FOUND", "message": "rolesmapping 'readall' not found."}


def test_put_creates_then_replaces_the_whole_mapping(standin: OpenSearchStandin) -> None:
    make_role(standin)
    url = f"{standin.url}{API}/rolesmapping/logpipe_writer"
    created = requests.put(url, auth=ADMIN, json={"backend_roles": [WRITER_ARN], "users": ["alice"]})
    assert created.status_code == 201
    assert created.json() == {"status": "CREATED", "message": "'logpipe_writer' created."}

    updated = requests.put(url, auth=ADMIN, json={"backend_roles": ["arn:aws:iam::123456789012:role/other"]})
    assert updated.status_code == 200
    assert updated.json() == {"status": "OK", "message": "'logpipe_writer' updated."}
    mapping = get_mapping(standin, "logpipe_writer")
    assert mapping["backend_roles"] == ["arn:aws:iam::123456789012:role/other"]
    assert mapping["users"] == []  # PUT replaces: users not in the body are gone


def test_put_mapping_for_missing_role_is_404(standin: OpenSearchStandin) -> None:
    response = requests.put(
        f"{standin.url}{API}/rolesmapping/logpipe_writer", auth=ADMIN, json={"backend_roles": [WRITER_ARN]}
    )
    assert response.status_code == 404
    assert response.json()["message"] == "role 'logpipe_writer' not found."


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"backend_role": ["x"]}, {"invalid_keys": {"keys": "backend_role"}}),
        ({"description": "only"}, {"specify_one_of": {"keys": "and_backend_roles,backend_roles,hosts,users"}}),
        ({"backend_roles": "arn:single"}, {"reason": "Wrong datatype", "backend_roles": "Array expected"}),
        ({"backend_roles": ["ok", ""]}, {"reason": "`null` or blank values are not allowed as json array elements"}),
        ({}, {"reason": "Request body required for this action."}),
    ],
)
def test_put_mapping_validates_the_body(
    standin: OpenSearchStandin, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    response = requests.put(f"{standin.url}{API}/rolesmapping/all_access", auth=ADMIN, json=body)
    assert response.status_code == 400
    assert expected.items() <= response.json().items()
    assert get_mapping(standin, "all_access")["users"] == ["admin"]


def test_patch_add_on_list_replaces_it_and_dash_appends(standin: OpenSearchStandin) -> None:
    replaced = patch(
        standin, "rolesmapping/all_access", [{"op": "add", "path": "/backend_roles", "value": [WRITER_ARN]}]
    )
    assert replaced.status_code == 200
    assert replaced.json() == {"status": "OK", "message": "'all_access' updated."}
    assert get_mapping(standin, "all_access")["backend_roles"] == [WRITER_ARN]

    appended = patch(
        standin, "rolesmapping/all_access", [{"op": "add", "path": "/backend_roles/-", "value": MASTER_ARN}]
    )
    assert appended.status_code == 200
    assert get_mapping(standin, "all_access")["backend_roles"] == [WRITER_ARN, MASTER_ARN]

    removed = patch(standin, "rolesmapping/all_access", [{"op": "remove", "path": "/backend_roles/0"}])
    assert removed.status_code == 200
    assert get_mapping(standin, "all_access")["backend_roles"] == [MASTER_ARN]

    replaced_users = patch(standin, "rolesmapping/all_access", [{"op": "replace", "path": "/users", "value": ["bob"]}])
    assert replaced_users.status_code == 200
    assert get_mapping(standin, "all_access")["users"] == ["bob"]


def test_patch_cannot_append_to_an_empty_list_like_the_real_plugin(
    new_standin: Callable[..., OpenSearchStandin],
) -> None:
    # Without an IAM master, all_access has no backend role; the plugin serialises the mapping without
    # its empty lists before patching, so "/backend_roles/-" has no parent.
    standin = new_standin(master_iam_arn=None)
    for op in ("add", "replace"):
        path = "/backend_roles/-" if op == "add" else "/backend_roles"
        response = patch(standin, "rolesmapping/all_access", [{"op": op, "path": path, "value": WRITER_ARN}])
        assert response.status_code == 400
        assert response.json()["message"] == 'Missing field "backend_roles"'
    whole_list = patch(
        standin, "rolesmapping/all_access", [{"op": "add", "path": "/backend_roles", "value": [WRITER_ARN]}]
    )
    assert whole_list.status_code == 200
    assert get_mapping(standin, "all_access")["backend_roles"] == [WRITER_ARN]


def test_patch_that_changes_nothing_reports_no_updates(standin: OpenSearchStandin) -> None:
    response = patch(
        standin, "rolesmapping/all_access", [{"op": "add", "path": "/backend_roles", "value": [MASTER_ARN]}]
    )
    assert response.status_code == 200
    assert response.json() == {"status": "OK", "message": "No updates required"}


def test_patch_of_absent_mapping_is_404(standin: OpenSearchStandin) -> None:
    response = patch(standin, "rolesmapping/readall", [{"op": "add", "path": "/users", "value": ["x"]}])
    assert response.status_code == 404
    assert response.json()["message"] == "rolesmapping 'readall' not found."


def test_bulk_patch_creates_and_appends_in_one_call(standin: OpenSearchStandin) -> None:
    make_role(standin)
    response = patch(
        standin,
        "rolesmapping",
        [
            {"op": "add", "path": "/logpipe_writer", "value": {"backend_roles": [WRITER_ARN]}},
            {"op": "add", "path": "/all_access/backend_roles/-", "value": WRITER_ARN},
        ],
    )
    assert response.status_code == 200
    assert response.json() == {"status": "OK", "message": "Resource updated."}
    assert get_mapping(standin, "logpipe_writer")["backend_roles"] == [WRITER_ARN]
    assert get_mapping(standin, "all_access")["backend_roles"] == [MASTER_ARN, WRITER_ARN]

    removed = patch(standin, "rolesmapping", [{"op": "remove", "path": "/logpipe_writer"}])
    assert removed.status_code == 200
    assert requests.get(f"{standin.url}{API}/rolesmapping/logpipe_writer", auth=ADMIN).status_code == 404


def test_bulk_patch_is_all_or_nothing(standin: OpenSearchStandin) -> None:
    response = patch(
        standin,
        "rolesmapping",
        [
            {"op": "add", "path": "/all_access/backend_roles/-", "value": WRITER_ARN},
            {"op": "add", "path": "/no_such_role", "value": {"backend_roles": [WRITER_ARN]}},
        ],
    )
    assert response.status_code == 404
    assert response.json()["message"] == "role 'no_such_role' not found."
    assert get_mapping(standin, "all_access")["backend_roles"] == [MASTER_ARN]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"op": "add", "path": "/users", "value": ["x"]}, 400, "Wrong request body"),
        ([], 400, "Wrong request body"),
        ([{"op": "test", "path": "/users", "value": ["admin"]}], 400, "Unsupported patch operation: test"),
        ([{"op": "move", "from": "/users", "path": "/hosts"}], 400, "Unsupported patch operation: move"),
        ([{"op": "remove", "path": "/users/5"}], 400, "Array index 5 out of bounds"),
        ([{"op": "add", "path": "/users"}], 400, "missing 'value' field"),
        ([{"op": "add", "path": "/colour", "value": ["x"]}], 400, "Invalid configuration"),
        ([{"op": "add", "path": "users", "value": ["x"]}], 400, "Missing leading slash"),
    ],
)
def test_invalid_patch_is_400_and_changes_nothing(
    standin: OpenSearchStandin, body: Any, status: int, fragment: str
) -> None:
    before = get_mapping(standin, "all_access")
    response = patch(standin, "rolesmapping/all_access", body)
    assert response.status_code == status
    assert fragment in response.text
    assert get_mapping(standin, "all_access") == before


def test_delete_mapping(standin: OpenSearchStandin) -> None:
    url = f"{standin.url}{API}/rolesmapping/security_manager"
    deleted = requests.delete(url, auth=ADMIN)
    assert deleted.status_code == 200
    assert deleted.json() == {"status": "OK", "message": "'security_manager' deleted."}
    assert requests.get(url, auth=ADMIN).status_code == 404
    assert requests.delete(url, auth=ADMIN).status_code == 404


def test_unsupported_method_on_a_mapping_is_405(standin: OpenSearchStandin) -> None:
    response = requests.post(f"{standin.url}{API}/rolesmapping/all_access", auth=ADMIN, json={})
    assert response.status_code == 405


# --------------------------------------------------------------------------- roles


def test_builtin_roles_are_protected(standin: OpenSearchStandin) -> None:
    url = f"{standin.url}{API}/roles"
    role = requests.get(f"{url}/all_access", auth=ADMIN).json()["all_access"]
    assert role["reserved"] is True and role["static"] is True
    assert role["cluster_permissions"] == ["*"]

    attempts = [
        requests.put(f"{url}/all_access", auth=ADMIN, json={"cluster_permissions": ["*"]}),
        requests.patch(
            f"{url}/all_access", auth=ADMIN, json=[{"op": "add", "path": "/cluster_permissions/-", "value": "x"}]
        ),
        requests.delete(f"{url}/all_access", auth=ADMIN),
    ]
    assert [r.status_code for r in attempts] == [403, 403, 403]
    assert attempts[0].json() == {"status": "FORBIDDEN", "message": "Resource 'all_access' is static."}
    reserved = requests.delete(f"{url}/security_manager", auth=ADMIN)
    assert reserved.status_code == 403
    assert reserved.json()["message"] == "Resource 'security_manager' is reserved."
    bulk = requests.patch(url, auth=ADMIN, json=[{"op": "remove", "path": "/readall"}])
    assert bulk.status_code == 403
    assert requests.get(f"{url}/readall", auth=ADMIN).status_code == 200


def test_custom_role_lifecycle(standin: OpenSearchStandin) -> None:
    make_role(standin)
    url = f"{standin.url}{API}/roles/logpipe_writer"
    role = requests.get(url, auth=ADMIN).json()["logpipe_writer"]
    assert role["index_permissions"] == [
        {"index_patterns": ["cwl-*"], "fls": [], "masked_fields": [], "allowed_actions": ["crud", "create_index"]}
    ]
    assert role["reserved"] is False
    added = requests.patch(
        url, auth=ADMIN, json=[{"op": "add", "path": "/index_permissions/0/index_patterns/-", "value": "dns-log-*"}]
    )
    assert added.status_code == 200
    role = requests.get(url, auth=ADMIN).json()["logpipe_writer"]
    assert role["index_permissions"][0]["index_patterns"] == ["cwl-*", "dns-log-*"]
    assert requests.put(url, auth=ADMIN, json={"cluster_permission": []}).status_code == 400
    assert requests.delete(url, auth=ADMIN).status_code == 200
    assert requests.get(url, auth=ADMIN).status_code == 404


# --------------------------------------------------------------------------- Dashboards saved objects

INDEX_PATTERN = {"attributes": {"title": "cwl-*", "timeFieldName": "eventTime"}}


def test_dashboards_status_is_green(standin: OpenSearchStandin) -> None:
    response = requests.get(standin.url + "/_dashboards/api/status", auth=ADMIN)
    assert response.status_code == 200
    assert response.json()["status"]["overall"]["state"] == "green"


def test_writes_need_the_osd_xsrf_header(standin: OpenSearchStandin) -> None:
    url = f"{standin.url}{SO}/index-pattern/cwl"
    expected = {"statusCode": 400, "error": "Bad Request", "message": "Request must contain a osd-xsrf header."}
    for response in (
        requests.post(url, auth=ADMIN, json=INDEX_PATTERN),
        requests.post(url, auth=ADMIN, json=INDEX_PATTERN, headers={"kbn-xsrf": "true"}),
        requests.put(url, auth=ADMIN, json=INDEX_PATTERN),
        requests.delete(url, auth=ADMIN),
    ):
        assert response.status_code == 400
        assert response.json() == expected
    assert requests.get(url, auth=ADMIN).status_code == 404  # nothing was created; GET needs no header


def test_create_conflicts_unless_overwrite(standin: OpenSearchStandin) -> None:
    url = f"{standin.url}{SO}/index-pattern/cwl"
    created = requests.post(url, auth=ADMIN, json=INDEX_PATTERN, headers=XSRF)
    assert created.status_code == 200
    obj = created.json()
    assert obj["id"] == "cwl" and obj["type"] == "index-pattern"
    assert obj["attributes"] == INDEX_PATTERN["attributes"]
    assert obj["references"] == [] and obj["version"] and obj["updated_at"]

    again = requests.post(url, auth=ADMIN, json={"attributes": {"title": "cwl-*", "timeFieldName": "x"}}, headers=XSRF)
    assert again.status_code == 409
    assert again.json() == {
        "statusCode": 409,
        "error": "Conflict",
        "message": "Saved object [index-pattern/cwl] conflict",
    }
    assert requests.get(url, auth=ADMIN).json()["attributes"]["timeFieldName"] == "eventTime"

    overwritten = requests.post(
        url,
        params={"overwrite": "true"},
        auth=ADMIN,
        json={"attributes": {"title": "cwl-*", "timeFieldName": "@timestamp"}},
        headers=XSRF,
    )
    assert overwritten.status_code == 200
    assert overwritten.json()["version"] != obj["version"]
    assert requests.get(url, auth=ADMIN).json()["attributes"] == {"title": "cwl-*", "timeFieldName": "@timestamp"}


def test_create_validates_type_and_attributes(standin: OpenSearchStandin) -> None:
    bad_type = requests.post(f"{standin.url}{SO}/no-such-type/x", auth=ADMIN, json=INDEX_PATTERN, headers=XSRF)
    assert bad_type.status_code == 400
    assert "Unsupported saved object type" in bad_type.json()["message"]
    no_attributes = requests.post(f"{standin.url}{SO}/index-pattern/x", auth=ADMIN, json={}, headers=XSRF)
    assert no_attributes.status_code == 400
    generated = requests.post(f"{standin.url}{SO}/index-pattern", auth=ADMIN, json=INDEX_PATTERN, headers=XSRF)
    assert generated.status_code == 200 and generated.json()["id"]


def test_update_merges_attributes_and_needs_an_existing_object(standin: OpenSearchStandin) -> None:
    url = f"{standin.url}{SO}/index-pattern/cwl"
    missing = requests.put(url, auth=ADMIN, json={"attributes": {"timeFieldName": "eventTime"}}, headers=XSRF)
    assert missing.status_code == 404
    assert missing.json()["message"] == "Saved object [index-pattern/cwl] not found"

    version = requests.post(url, auth=ADMIN, json=INDEX_PATTERN, headers=XSRF).json()["version"]
    updated = requests.put(url, auth=ADMIN, json={"attributes": {"timeFieldName": "@timestamp"}}, headers=XSRF)
    assert updated.status_code == 200
    assert updated.json()["attributes"] == {"timeFieldName": "@timestamp"}
    assert requests.get(url, auth=ADMIN).json()["attributes"] == {"title": "cwl-*", "timeFieldName": "@timestamp"}
    stale = requests.put(url, auth=ADMIN, json={"attributes": {"title": "x"}, "version": version}, headers=XSRF)
    assert stale.status_code == 409


def test_delete_saved_object(standin: OpenSearchStandin) -> None:
    url = f"{standin.url}{SO}/index-pattern/cwl"
    requests.post(url, auth=ADMIN, json=INDEX_PATTERN, headers=XSRF)
    assert requests.delete(url, auth=ADMIN, headers=XSRF).status_code == 200
    assert requests.get(url, auth=ADMIN).status_code == 404
    assert requests.delete(url, auth=ADMIN, headers=XSRF).status_code == 404


def test_find_searches_titles_like_dashboards(standin: OpenSearchStandin) -> None:
    for id_, title in (("cwl", "cwl-*"), ("dns", "dns-log-*"), ("flow", "vpc-flowlog-*")):
        requests.post(
            f"{standin.url}{SO}/index-pattern/{id_}",
            auth=ADMIN,
            headers=XSRF,
            json={"attributes": {"title": title, "timeFieldName": "t"}},
        )
    chart = {"attributes": {"title": "cwl chart", "visState": '{"type": "table", "aggs": []}'}}
    assert requests.post(f"{standin.url}{SO}/visualization/v", auth=ADMIN, headers=XSRF, json=chart).ok

    def find(**params: str) -> dict[str, Any]:
        response = requests.get(
            f"{standin.url}{SO}/_find", auth=ADMIN, params={"type": "index-pattern", "search_fields": "title", **params}
        )
        assert response.status_code == 200, response.text
        return response.json()

    everything = find(per_page="100")
    assert everything["total"] == 3 and len(everything["saved_objects"]) == 3
    assert [o["id"] for o in find(search='"cwl-*"')["saved_objects"]] == ["cwl"]
    assert [o["id"] for o in find(search="vpc*")["saved_objects"]] == ["flow"]
    assert find(search="cwl-*")["total"] == 0  # prefix "cwl-" matches no analysed token, as on a real domain
    page = find(per_page="2", page="2")
    assert page["total"] == 3 and len(page["saved_objects"]) == 1
    only_title = find(search='"dns-log-*"', fields="title")["saved_objects"][0]
    assert only_title["attributes"] == {"title": "dns-log-*"}
    assert requests.get(f"{standin.url}{SO}/_find", auth=ADMIN).status_code == 400  # type is required


def test_bulk_get_reports_missing_objects(standin: OpenSearchStandin) -> None:
    requests.post(f"{standin.url}{SO}/index-pattern/cwl", auth=ADMIN, json=INDEX_PATTERN, headers=XSRF)
    response = requests.post(
        f"{standin.url}{SO}/_bulk_get",
        auth=ADMIN,
        headers=XSRF,
        json=[{"type": "index-pattern", "id": "cwl"}, {"type": "index-pattern", "id": "gone"}],
    )
    assert response.status_code == 200
    found, missing = response.json()["saved_objects"]
    assert found["attributes"]["title"] == "cwl-*"
    assert missing["error"]["statusCode"] == 404
    assert not standin.requests[-1].mutating


def test_tenants_keep_saved_objects_apart(new_standin: Callable[..., OpenSearchStandin]) -> None:
    standin = new_standin(multi_tenancy=True)
    assert (
        requests.put(f"{standin.url}{API}/tenants/security", auth=ADMIN, json={"description": "SOC"}).status_code == 201
    )
    url = f"{standin.url}{SO}/index-pattern/cwl"

    def in_tenant(tenant: str | None) -> dict[str, str]:
        return {**XSRF, **({"securitytenant": tenant} if tenant is not None else {})}

    requests.post(url, auth=ADMIN, json=INDEX_PATTERN, headers=in_tenant("global"))
    assert requests.get(url, auth=ADMIN, headers=in_tenant("private")).status_code == 404
    assert requests.get(url, auth=ADMIN, headers=in_tenant("security")).status_code == 404
    assert requests.get(url, auth=ADMIN).status_code == 200  # no header: the global tenant
    assert requests.get(url, auth=ADMIN, headers=in_tenant("no-such-tenant")).status_code == 200  # falls back

    private = requests.post(
        url,
        auth=ADMIN,
        headers=in_tenant("__user__"),
        json={"attributes": {"title": "cwl-*", "timeFieldName": "private"}},
    )
    assert private.status_code == 200  # same id, other tenant: no conflict
    assert (
        requests.get(url, auth=ADMIN, headers=in_tenant("private")).json()["attributes"]["timeFieldName"] == "private"
    )
    assert requests.get(url, auth=ADMIN, params={"security_tenant": "private"}).status_code == 200
    assert (
        requests.get(url, auth=ADMIN, headers=in_tenant("global")).json()["attributes"]["timeFieldName"] == "eventTime"
    )
    assert [r.tenant for r in standin.requests if r.target == "dashboards"][-1] == "global"


def test_tenant_header_is_ignored_without_multi_tenancy(standin: OpenSearchStandin) -> None:
    url = f"{standin.url}{SO}/index-pattern/cwl"
    requests.post(url, auth=ADMIN, json=INDEX_PATTERN, headers={**XSRF, "securitytenant": "private"})
    assert requests.get(url, auth=ADMIN, headers={"securitytenant": "global"}).status_code == 200
    assert requests.get(f"{standin.url}{API}/tenancy/config", auth=ADMIN).json()["multitenancy_enabled"] is False


def test_default_index_setting_is_kept_per_tenant(standin: OpenSearchStandin) -> None:
    url = standin.url + "/_dashboards/api/opensearch-dashboards/settings"
    response = requests.post(url, auth=ADMIN, headers=XSRF, json={"changes": {"defaultIndex": "cwl"}})
    assert response.status_code == 200
    assert requests.get(url, auth=ADMIN).json()["settings"]["defaultIndex"] == {"userValue": "cwl"}


# --------------------------------------------------------------------------- proxy


def test_bulk_and_search_reach_osmem_and_come_back(standin: OpenSearchStandin) -> None:
    lines = [
        {"index": {"_index": "cwl-2024.05.01", "_id": "evt-1"}},
        {"eventTime": "2024-05-01T10:00:00Z", "eventName": "ConsoleLogin"},
        {"index": {"_index": "cwl-2024.05.01", "_id": "evt-2"}},
        {"eventTime": "2024-05-01T11:00:00Z", "eventName": "PutObject"},
    ]
    bulk = requests.post(
        standin.url + "/_bulk?refresh=true",
        auth=sigv4(),
        data="".join(json.dumps(line) + "\n" for line in lines),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert bulk.status_code == 200
    assert bulk.json()["errors"] is False
    search = requests.post(
        standin.url + "/cwl-*/_search", auth=ADMIN, json={"query": {"match": {"eventName": "ConsoleLogin"}}}
    )
    assert search.status_code == 200
    assert [hit["_id"] for hit in search.json()["hits"]["hits"]] == ["evt-1"]
    assert requests.head(standin.url + "/cwl-2024.05.01", auth=ADMIN).status_code == 200
    assert requests.delete(standin.url + "/cwl-2024.05.01", auth=ADMIN).status_code == 200
    assert requests.head(standin.url + "/cwl-2024.05.01", auth=ADMIN).status_code == 404
    targets = [(r.method, r.target, r.mutating) for r in standin.requests]
    assert targets[:2] == [("POST", "upstream", True), ("POST", "upstream", False)]


def test_proxy_forwards_request_unchanged_but_without_authorization(
    new_standin: Callable[..., OpenSearchStandin], echo_upstream: Any
) -> None:
    standin = new_standin(upstream=echo_upstream.url)
    response = requests.put(
        standin.url + "/_index_template/demogo-cwl?pretty=true&x=%2A",
        auth=ADMIN,
        data=b'{"index_patterns":["cwl-*"]}',
        headers={"Content-Type": "application/json", "X-Opaque-Id": "logpipe-1"},
    )
    assert response.status_code == 207
    assert response.headers["Content-Type"] == "application/vnd.echo+json"
    assert response.headers["X-Upstream"] == "echo"
    assert response.json() == {"echo": True, "parts": ["a", "b", "c"]}
    received = echo_upstream.received[-1]
    assert received["method"] == "PUT"
    assert received["path"] == "/_index_template/demogo-cwl?pretty=true&x=%2A"
    assert received["body"] == b'{"index_patterns":["cwl-*"]}'
    assert received["headers"]["content-type"] == "application/json"
    assert received["headers"]["x-opaque-id"] == "logpipe-1"
    assert "authorization" not in received["headers"]


def test_proxy_streams_a_chunked_upstream_response(
    new_standin: Callable[..., OpenSearchStandin], echo_upstream: Any
) -> None:
    standin = new_standin(upstream=echo_upstream.url)
    response = requests.get(standin.url + "/chunked", auth=ADMIN)
    assert response.status_code == 207
    assert response.json()["parts"] == ["a", "b", "c"]


def test_unreachable_upstream_is_502(new_standin: Callable[..., OpenSearchStandin]) -> None:
    standin = new_standin(upstream="http://127.0.0.1:9")
    response = requests.get(standin.url + "/_cat/indices", auth=ADMIN)
    assert response.status_code == 502


# --------------------------------------------------------------------------- state and log


def test_state_survives_a_restart_with_a_state_file(
    new_standin: Callable[..., OpenSearchStandin], tmp_path: Path
) -> None:
    state_file = tmp_path / "sandbox" / "opensearch-state.json"
    first = new_standin(state_file=state_file)
    make_role(first)
    assert (
        requests.put(
            f"{first.url}{API}/rolesmapping/logpipe_writer", auth=ADMIN, json={"backend_roles": [WRITER_ARN]}
        ).status_code
        == 201
    )
    assert (
        requests.post(f"{first.url}{SO}/index-pattern/cwl", auth=ADMIN, json=INDEX_PATTERN, headers=XSRF).status_code
        == 200
    )
    first.stop()

    second = new_standin(state_file=state_file)
    assert get_mapping(second, "logpipe_writer")["backend_roles"] == [WRITER_ARN]
    assert requests.get(f"{second.url}{API}/roles/logpipe_writer", auth=ADMIN).status_code == 200
    assert (
        requests.get(f"{second.url}{SO}/index-pattern/cwl", auth=ADMIN).json()["attributes"]
        == INDEX_PATTERN["attributes"]
    )
    again = requests.post(f"{second.url}{SO}/index-pattern/cwl", auth=ADMIN, json=INDEX_PATTERN, headers=XSRF)
    assert again.status_code == 409
    assert [p.name for p in state_file.parent.iterdir()] == [state_file.name]  # no temp files left


def test_unreadable_state_file_is_an_error_not_a_silent_reset(osmem_url: str, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text("{not json")
    with pytest.raises(ValueError, match="cannot load stand-in state"):
        OpenSearchStandin(osmem_url, state_file=state_file)


def test_request_log_shows_a_converged_second_run_writes_nothing(standin: OpenSearchStandin) -> None:
    def ensure_writer_mapped() -> None:
        """What an idempotent 'up' does: read, compare, write only when different."""
        current = requests.get(f"{standin.url}{API}/rolesmapping/all_access", auth=sigv4()).json()["all_access"]
        if WRITER_ARN not in current["backend_roles"]:
            patch(
                standin,
                "rolesmapping/all_access",
                [{"op": "add", "path": "/backend_roles", "value": [*current["backend_roles"], WRITER_ARN]}],
            )

    ensure_writer_mapped()
    assert [(r.method, r.status) for r in standin.mutating_requests] == [("PATCH", 200)]
    standin.reset()
    assert standin.requests == []
    ensure_writer_mapped()
    assert standin.mutating_requests == []
    (read,) = standin.requests
    assert (read.method, read.path, read.principal, read.target, read.status) == (
        "GET",
        f"{API}/rolesmapping/all_access",
        MASTER_ARN,
        "security",
        200,
    )


def test_parallel_appends_are_all_kept(standin: OpenSearchStandin) -> None:
    arns = [f"arn:aws:iam::123456789012:role/writer-{i}" for i in range(16)]
    barrier = threading.Barrier(len(arns))
    statuses: list[int] = []

    def append(arn: str) -> None:
        barrier.wait()
        statuses.append(
            patch(
                standin, "rolesmapping/all_access", [{"op": "add", "path": "/backend_roles/-", "value": arn}]
            ).status_code
        )

    threads = [threading.Thread(target=append, args=(arn,)) for arn in arns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * len(arns)
    assert sorted(get_mapping(standin, "all_access")["backend_roles"]) == sorted([MASTER_ARN, *arns])
    assert len(standin.mutating_requests) == len(arns)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/cwl-*/_search", False),
        ("POST", "/_msearch", False),
        ("POST", "/_dashboards/api/saved_objects/_bulk_get", False),
        ("POST", "/_plugins/_security/authinfo", False),
        ("GET", "/_cat/indices", False),
        ("POST", "/_bulk", True),
        ("PUT", "/_index_template/x", True),
        ("DELETE", "/vpc-flowlog-2024.05.01", True),
        ("PATCH", "/_plugins/_security/api/rolesmapping", True),
    ],
)
def test_is_mutating(method: str, path: str, expected: bool) -> None:
    assert is_mutating(method, path) is expected
