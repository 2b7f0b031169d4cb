"""Run the platform emulator on its own: ``python -m ltiauthenticator.platform_emulator``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import List, Optional

from .app import make_app
from .platform import EmulatedPlatform, ToolRegistration


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except for options whose default is computed later."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None:
            return action.help or ""
        return super()._get_help_string(action) or ""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ltiauthenticator.platform_emulator",
        description="An emulated LTI 1.3 platform (LMS) that launches into a JupyterHub. "
        "At start-up it prints, as one JSON line, the course page URL and the four values a "
        "hub's LTI13Authenticator config needs (issuer, client_id, authorize_url, "
        "jwks_endpoint).",
        formatter_class=_HelpWithDefaults,
    )
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on")
    parser.add_argument(
        "--issuer", help="issuer URL; when not given, this emulator's own URL (http://IP:PORT)"
    )
    parser.add_argument("--client-id", default="jupyterhub-tool", help="the tool's client id")
    parser.add_argument(
        "--deployment-id", default="deployment-1", help="deployment id sent in launches"
    )
    parser.add_argument(
        "--hub-url", default="http://127.0.0.1:8000", help="public URL of the JupyterHub"
    )
    parser.add_argument("--jwks-latency", type=float, default=0.0, help="seconds per JWKS reply")
    parser.add_argument(
        "--jwks-cache-control",
        default="max-age=3600",
        help="Cache-Control header of the JWKS reply",
    )
    return parser.parse_args(argv)


def platform_from_args(args: argparse.Namespace) -> EmulatedPlatform:
    own_url = f"http://{args.ip}:{args.port}"
    hub = args.hub_url.rstrip("/")
    tool = ToolRegistration(
        client_id=args.client_id,
        login_url=f"{hub}/hub/lti13/oauth_login",
        redirect_uris=[f"{hub}/hub/lti13/oauth_callback"],
        target_link_uri=f"{hub}/hub/",
        deployment_id=args.deployment_id,
    )
    platform = EmulatedPlatform(args.issuer or own_url, tool)
    platform.jwks_latency = args.jwks_latency
    platform.jwks_cache_control = args.jwks_cache_control
    return platform


async def serve(args: argparse.Namespace) -> None:
    platform = platform_from_args(args)
    make_app(platform).listen(args.port, address=args.ip)
    own_url = f"http://{args.ip}:{args.port}"
    print(
        json.dumps(
            {
                "course_page": own_url + "/",
                "issuer": platform.issuer,
                "client_id": platform.tool.client_id,
                "authorize_url": own_url + "/authorize",
                "jwks_endpoint": own_url + "/jwks",
            }
        ),
        flush=True,
    )
    await asyncio.Event().wait()


def main(argv: Optional[List[str]] = None) -> None:
    try:
        asyncio.run(serve(parse_args(argv)))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
