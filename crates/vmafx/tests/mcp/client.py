"""Drives `vmafx mcp` with the official MCP Python SDK (the `mcp` package), as an assistant
would: connects over stdio (starting the server) or streamable HTTP (with a bearer token),
lists the tools, and calls them, a job on a real controller included. Prints one JSON object
with every answer, as the client received it, for crates/vmafx/tests/mcp.rs to check.

Usage: client.py CONFIG_JSON, where CONFIG_JSON holds transport ("stdio" or "http"), vmafx,
root, controller (stdio), url, token and viewer_token (http), reference, distorted, missing;
or, with "ca" (a CA certificate file for https; client_cert and client_key for mutual TLS), only
lists the tools and models, or reports why it could not ("error").
"""

import contextlib
import json
import ssl
import sys
import time

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def dump(result):
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)


@contextlib.asynccontextmanager
async def connect(cfg, token=None):
    if cfg["transport"] == "stdio":
        server = StdioServerParameters(
            command=cfg["vmafx"],
            args=[
                "mcp",
                "--allow-file-root",
                cfg["root"],
                "--controller",
                cfg["controller"],
            ],
            env={"VMAFX_LOG": "warn"},
        )
        async with stdio_client(server) as (read, write):
            async with ClientSession(read, write) as session:
                yield session
    else:
        headers = {"Authorization": f"Bearer {token or cfg['token']}"}
        if cfg.get("ca"):
            tls = ssl.create_default_context(cafile=cfg["ca"])
            if cfg.get("client_cert"):
                tls.load_cert_chain(cfg["client_cert"], cfg["client_key"])
            http = httpx2.AsyncClient(
                headers=headers,
                verify=tls,
                timeout=httpx2.Timeout(30, read=300),
            )
        else:
            http = create_mcp_http_client(headers=headers)
        async with http:
            async with streamable_http_client(cfg["url"], http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    yield session


async def tools(session, cfg, out):
    reference, distorted = cfg["reference"], cfg["distorted"]
    init = await session.initialize()
    out["server"] = dump(init)["serverInfo"]
    listed = await session.list_tools()
    out["tools"] = [dump(t) for t in listed.tools]

    progress = []

    async def on_progress(value, total, message):
        progress.append({"progress": value, "total": total, "message": message})

    out["score"] = dump(
        await session.call_tool(
            "score",
            {"reference": reference, "distorted": distorted},
            progress_callback=on_progress,
        )
    )
    out["score_progress"] = list(progress)
    out["missing"] = dump(
        await session.call_tool(
            "score", {"reference": reference, "distorted": cfg["missing"]}
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
    progress.clear()
    # The reference itself is the best possible "encode": it must rank first.
    out["compare"] = dump(
        await session.call_tool(
            "compare",
            {"reference": reference, "distorted": [distorted, reference]},
            progress_callback=on_progress,
        )
    )
    out["compare_progress"] = list(progress)
    out["compare_one"] = dump(
        await session.call_tool(
            "compare", {"reference": reference, "distorted": [distorted]}
        )
    )


async def jobs(session, cfg, out):
    submitted = dump(
        await session.call_tool(
            "submit_job",
            {"reference": cfg["reference"], "distorted": cfg["distorted"]},
        )
    )
    out["submit_job"] = submitted
    job_id = submitted.get("structuredContent", {}).get("id")
    polls = []
    deadline = time.monotonic() + 120
    while job_id and time.monotonic() < deadline:
        got = dump(await session.call_tool("get_job", {"id": job_id}))
        polls.append(got)
        if got.get("isError") or got["structuredContent"]["state"] in (
            "COMPLETED",
            "FAILED",
            "CANCELLED",
        ):
            break
        await anyio.sleep(0.2)
    out["get_job"] = polls[-1] if polls else None
    templates = await session.list_resource_templates()
    out["resource_templates"] = [dump(t) for t in templates.resource_templates]
    if job_id:
        report = await session.read_resource(f"vmafx://jobs/{job_id}/report")
        out["report"] = dump(report)
    out["list_jobs"] = dump(await session.call_tool("list_jobs", {"limit": 10}))
    out["job_frames"] = dump(
        await session.call_tool("job_frames", {"id": job_id or "", "first": 1, "count": 2})
    )
    out["list_nodes"] = dump(await session.call_tool("list_nodes", {}))
    out["get_unknown"] = dump(await session.call_tool("get_job", {"id": "no-such-job"}))
    out["submit_outside"] = dump(
        await session.call_tool(
            "submit_job",
            {"reference": cfg["reference"], "distorted": "file:///etc/passwd"},
        )
    )


async def main(config):
    cfg = json.loads(config)
    out = {}
    if cfg.get("ca"):
        try:
            async with connect(cfg) as session:
                await session.initialize()
                listed = await session.list_tools()
                out["tools"] = [t.name for t in listed.tools]
                out["list_models"] = dump(await session.call_tool("list_models", {}))
        except Exception as failure:  # a refused handshake, reported for the test to check
            out = {"error": f"{type(failure).__name__}: {failure!r}"}
        print(json.dumps(out))
        return
    async with connect(cfg) as session:
        await tools(session, cfg, out)
        await jobs(session, cfg, out)
    if cfg.get("viewer_token"):
        # A viewer may read but not score or submit.
        async with connect(cfg, cfg["viewer_token"]) as session:
            await session.initialize()
            out["viewer_list_models"] = dump(await session.call_tool("list_models", {}))
            out["viewer_score"] = dump(
                await session.call_tool(
                    "score",
                    {"reference": cfg["reference"], "distorted": cfg["distorted"]},
                )
            )
    print(json.dumps(out))


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
