"""Drives `vmafx mcp` with the official MCP Python SDK (the `mcp` package), as an assistant
would: starts the server over stdio, lists its tools, and calls them. Prints one JSON object
with every answer, as the client received it, for crates/vmafx/tests/mcp.rs to check.

Usage: client.py VMAFX FILE_ROOT REFERENCE DISTORTED MISSING
"""

import json
import sys

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client


def dump(result):
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)


async def main(vmafx, root, reference, distorted, missing):
    server = StdioServerParameters(
        command=vmafx,
        args=["mcp", "--allow-file-root", root],
        env={"VMAFX_LOG": "warn"},
    )
    out = {}
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out["server"] = dump(init)["serverInfo"]
            tools = await session.list_tools()
            out["tools"] = [dump(t) for t in tools.tools]
            out["score"] = dump(
                await session.call_tool(
                    "score", {"reference": reference, "distorted": distorted}
                )
            )
            out["missing"] = dump(
                await session.call_tool(
                    "score", {"reference": reference, "distorted": missing}
                )
            )
            out["outside"] = dump(
                await session.call_tool(
                    "score", {"reference": reference, "distorted": "file:///etc/passwd"}
                )
            )
            out["list_models"] = dump(await session.call_tool("list_models", {}))
            out["describe_model"] = dump(
                await session.call_tool("describe_model", {"version": "vmaf_v0.6.1"})
            )
            out["describe_unknown"] = dump(
                await session.call_tool("describe_model", {"version": "vmaf_v9"})
            )
    print(json.dumps(out))


if __name__ == "__main__":
    anyio.run(main, *sys.argv[1:6])
