"""The platform side of AGS and NRPS from ``lti1p3platform`` (PyPI), served by tornado.

The package validates the tool's client assertion against the tool's JWKS (fetched from
the hub), issues its own signed access tokens, and implements the line item, score,
result and membership endpoints over storage a platform supplies: here, dicts. This
module is only the glue its Django and FastAPI adapters provide for those frameworks.
"""

from __future__ import annotations

import json
import typing as t

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from lti1p3platform.response import Response, generate_next_link
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import (
    AssignmentsGradesService,
    NamesRoleProvisioningService,
)
from tornado import web

from ..support.threaded import ThreadedApp

LIS = "http://purl.imsglobal.org/vocab/lis/v2/membership#"


def _pem_pair() -> t.Tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class Store:
    """What the platform keeps: one course, its members, line items and scores."""

    def __init__(self, issuer: str, client_id: str, tool_jwks_url: str, base: str) -> None:
        self.issuer, self.client_id, self.tool_jwks_url, self.base = (
            issuer,
            client_id,
            tool_jwks_url,
            base,
        )
        self.private_key, self.public_key = _pem_pair()
        self.members: t.List[t.Dict[str, t.Any]] = []
        self.line_items: t.List[t.Dict[str, t.Any]] = []
        self.scores: t.Dict[t.Tuple[str, str], t.Dict[str, t.Any]] = {}
        self.token_requests = 0


class PlatformConf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: t.Any) -> None:
        self.store: Store = kwargs["store"]

    def get_registration_by_params(self, **kwargs: t.Any) -> Registration:
        store = self.store
        return (
            Registration()
            .set_iss(store.issuer)
            .set_client_id(store.client_id)
            .set_platform_public_key(store.public_key)
            .set_platform_private_key(store.private_key)
            .set_tool_key_set_url(store.tool_jwks_url)
        )


class TornadoRequest(Request):
    def build_metadata(self, request: t.Any) -> TRequest:
        content_type = request.headers.get("Content-Type", "")
        body = request.body or b""
        # page and limit are numbers to the package (it adds 1 to page)
        query = {
            k: int(v[0]) if v[0].isdigit() else v[0].decode()
            for k, v in request.query_arguments.items()
        }
        return {
            "method": request.method,
            "form_data": {k: v[0].decode() for k, v in request.body_arguments.items()},
            "json": json.loads(body) if body and "json" in content_type else None,
            "get_data": query,
            "headers": request.headers,
            "content_type": content_type,
            "path": request.path,
        }


class Grades(AssignmentsGradesService):
    store: Store

    def _page(self, items: t.List[t.Any], page: int, limit: t.Optional[int]) -> t.Dict:
        limit = limit or 2
        chunk = items[(page - 1) * limit : page * limit]
        return {"content": chunk, "has_next": page * limit < len(items), "next": None}

    def find_lineitems(
        self,
        page=1,
        limit=None,
        line_item_id=None,
        resource_link_id=None,
        resource_id=None,
        tag=None,
    ):  # noqa: ANN001 - the package's signature
        items = [
            i
            for i in self.store.line_items
            if (resource_id is None or i.get("resourceId") == resource_id)
            and (tag is None or i.get("tag") == tag)
        ]
        return self._page(items, page, limit)

    def find_lineitem(self, line_item_id: str) -> t.Any:
        return next(i for i in self.store.line_items if i["id"].endswith("/" + line_item_id))

    def create_lineitem(self, creation_data: t.Any) -> t.Any:
        number = len(self.store.line_items) + 1
        item = {**creation_data, "id": f"{self.store.base}/lineitems/{number}"}
        self.store.line_items.append(item)
        return item

    def update_lineitem(self, update_data: t.Any) -> t.Any:
        raise NotImplementedError

    def delete_lineitem(self, line_item_id: str) -> None:
        raise NotImplementedError

    def update_score(self, line_item_id: str, score: t.Any) -> UpdateScoreStatus:
        if not any(m["user_id"] == score.get("userId") for m in self.store.members):
            return UpdateScoreStatus.NOTAPPLIED
        self.store.scores[(line_item_id, score["userId"])] = score
        return UpdateScoreStatus.SUCCESS

    def get_results(self, line_item_id: str, page: int = 1, limit=None, user_id=None):  # noqa: ANN001
        results = [
            {
                "userId": user,
                "resultScore": s.get("scoreGiven"),
                "resultMaximum": s.get("scoreMaximum"),
            }
            for (item, user), s in self.store.scores.items()
            if item == line_item_id
        ]
        return self._page(results, page, limit)


class Roster(NamesRoleProvisioningService):
    store: Store

    def get_member_data_page(self, page=1, limit=None, role=None, since=None, **_):  # noqa: ANN001
        members = [m for m in self.store.members if role is None or role in m["roles"]]
        limit = limit or len(members) or 1
        chunk = members[(page - 1) * limit : page * limit]
        return {"content": chunk, "has_next": page * limit < len(members)}

    def get_context_by_id(self) -> Context:
        return Context(id="course-ind", label="IND", title="Independent")


def write_response(handler: web.RequestHandler, response: Response) -> None:
    """The package's Response as HTTP, as its Django adapter writes it."""
    handler.set_status(response.code)
    handler.set_header("Content-Type", response.media_type)
    if 200 <= response.code < 300:
        result = response.result
        data = result["content"] if isinstance(result, dict) and "content" in result else result
        if isinstance(result, dict) and result.get("next"):
            handler.set_header("Link", generate_next_link(result["next"]))
        handler.finish(json.dumps(data))
    else:
        handler.finish(json.dumps({"error": response.message}))


class _Handler(web.RequestHandler):
    def initialize(self, store: Store) -> None:
        self.store = store

    def check_xsrf_cookie(self) -> None:
        pass

    def conf(self) -> PlatformConf:
        conf = PlatformConf(store=self.store)
        conf.get_registration()
        return conf

    def serve(self, service: t.Any, method: t.Callable[..., Response], **kwargs: t.Any) -> None:
        try:
            response = service.handle_resp(method, **kwargs)
        except Exception as e:  # the package raises on bad tokens (not a service exception)
            response = Response(result=None, code=401, message=f"{type(e).__name__}: {e}")
        write_response(self, response)


class TokenHandler(_Handler):
    def post(self) -> None:
        self.store.token_requests += 1
        try:
            answer = self.conf().get_access_token(TornadoRequest(self.request).form_data)
        except Exception as e:
            self.set_status(400)
            self.finish({"error": "invalid_request", "error_description": f"{e}"})
            return
        self.finish(answer)


class LineItemsHandler(_Handler):
    def grades(self, lineitem_url: t.Optional[str] = None) -> Grades:
        service = Grades(
            TornadoRequest(self.request), self.conf(), self.store.base + "/lineitems", lineitem_url
        )
        service.store = self.store
        return service

    def get(self) -> None:
        service = self.grades()
        self.serve(service, service.handle_get_lineitems)

    def post(self) -> None:
        service = self.grades()
        self.serve(service, service.handle_create_lineitem)


class ScoresHandler(LineItemsHandler):
    def post(self, number: str) -> None:  # type: ignore[override]
        service = self.grades(f"{self.store.base}/lineitems/{number}")
        self.serve(service, service.handle_update_score, line_item_id=number)


class ResultsHandler(LineItemsHandler):
    def get(self, number: str) -> None:  # type: ignore[override]
        service = self.grades(f"{self.store.base}/lineitems/{number}")
        self.serve(service, service.handle_get_results, line_item_id=number)


class MembershipsHandler(_Handler):
    def get(self) -> None:
        service = Roster(TornadoRequest(self.request), self.conf(), self.store.base + "/members")
        service.store = self.store
        self.serve(service, service.handle_get_members)


class IndependentPlatform(ThreadedApp):
    """The app on a loopback port, in a thread of its own."""

    def __init__(self, port: int, issuer: str, client_id: str, tool_jwks_url: str) -> None:
        super().__init__(port, "the independent platform")
        self.url = f"http://127.0.0.1:{port}"
        self.store = Store(issuer, client_id, tool_jwks_url, self.url)

    def make_app(self) -> web.Application:
        s = {"store": self.store}
        return web.Application(
            [
                (r"/token", TokenHandler, s),
                (r"/lineitems", LineItemsHandler, s),
                (r"/lineitems/(\d+)/scores", ScoresHandler, s),
                (r"/lineitems/(\d+)/results", ResultsHandler, s),
                (r"/members", MembershipsHandler, s),
            ]
        )

    def claims(self) -> t.Dict[str, t.Any]:
        """The AGS and NRPS claims a launch from this platform's course carries."""
        return {
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": [
                    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
                    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                ],
                "lineitems": self.url + "/lineitems",
            },
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": self.url + "/members",
                "service_versions": ["2.0"],
            },
        }
