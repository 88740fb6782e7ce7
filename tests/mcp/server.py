"""An MCP server for longrun's integration tests, built with the official Python SDK and
served over the streamable HTTP transport on loopback.

Tools: `add`, `lookup`, `big` (a result of any size), `explode` (an error result) and `slow`
(an answer after a while).
`POST /change` changes the definition of `lookup` (its description) and removes `big`, so a
test can change the tool list between an agent's save and a call. `GET /health` answers once
the server is up.

Usage: python server.py --port PORT
"""

import argparse

import anyio

from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse

CHANGED = {"value": False}
WORDS = {"alpha": "the first letter", "omega": "the last letter"}


class TestServer(MCPServer):
    async def list_tools(self):
        tools = await super().list_tools()
        if not CHANGED["value"]:
            return tools
        changed = []
        for tool in tools:
            if tool.name == "big":
                continue
            if tool.name == "lookup":
                tool = tool.model_copy(update={"description": "Looks a word up (version 2)."})
            changed.append(tool)
        return changed


server = TestServer("longrun-test")


@server.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@server.tool()
def lookup(word: str) -> str:
    """Looks a word up."""
    return WORDS.get(word, "no such word")


@server.tool()
def big(size: int) -> str:
    """Returns `size` characters."""
    return "x" * size


@server.tool()
def explode() -> str:
    """Always fails."""
    raise ValueError("the tool exploded on purpose")


@server.tool()
async def slow(seconds: float) -> str:
    """Answers after `seconds`."""
    await anyio.sleep(seconds)
    return "finally"


@server.custom_route("/change", methods=["POST"])
async def change(_request: Request) -> JSONResponse:
    CHANGED["value"] = True
    return JSONResponse({"changed": True})


@server.custom_route("/health", methods=["GET"])
async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server.settings.log_level = "WARNING"
    server.run("streamable-http", host="127.0.0.1", port=args.port)
