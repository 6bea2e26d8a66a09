#!/usr/bin/env python3
"""The official Anthropic and OpenAI Python SDKs against a fake upstream, through AgentHost's
proxy and directly, for the proxy's SDK test.

Usage: sdk_clients.py PROXY DIRECT AGENT_TOKEN KEY [ROUNDS]

PROXY is AgentHost's base URL (http://127.0.0.1:PORT), DIRECT the fake upstream's. Through the
proxy each SDK is given only the agent's token as its API key; directly, the real KEY. Each
streams a message ROUNDS times per path, alternating, and the time to the first text event is
measured. Prints one JSON object: the text each path streamed and the median times in
milliseconds. Exits non-zero when a path fails or streams the wrong text.
"""
import json
import statistics
import sys
import time

import anthropic
import openai


def anthropic_first_event(base_url, api_key):
    client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0)
    started = time.perf_counter()
    first = None
    text = ""
    with client.messages.stream(model="fake", max_tokens=16, messages=[{"role": "user", "content": "hi"}]) as stream:
        for piece in stream.text_stream:
            if first is None:
                first = time.perf_counter() - started
            text += piece
    return first, text


def openai_first_event(base_url, api_key):
    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
    started = time.perf_counter()
    first = None
    text = ""
    stream = client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}], stream=True)
    for chunk in stream:
        delta = chunk.choices[0].delta.content if chunk.choices else None
        if delta:
            if first is None:
                first = time.perf_counter() - started
            text += delta
    return first, text


def main():
    proxy, direct, token, key = sys.argv[1:5]
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    paths = {
        "anthropic": {
            "proxy": (anthropic_first_event, proxy + "/proxy/anthropic", token),
            "direct": (anthropic_first_event, direct, key),
        },
        "openai": {
            "proxy": (openai_first_event, proxy + "/proxy/openai/v1", token),
            "direct": (openai_first_event, direct + "/v1", key),
        },
    }
    result = {}
    for sdk, routes in paths.items():
        times = {"proxy": [], "direct": []}
        texts = {}
        for _ in range(rounds):
            for name in ("direct", "proxy"):
                call, base, credential = routes[name]
                try:
                    first, text = call(base, credential)
                except Exception as error:
                    print(f"{sdk} {name} ({base}): {error!r}", file=sys.stderr)
                    sys.exit(1)
                times[name].append(first * 1000)
                texts[name] = text
        result[sdk] = {
            "text": texts,
            "first_event_ms": {name: round(statistics.median(values), 3) for name, values in times.items()},
        }
    print(json.dumps(result))
    ok = all(entry["text"]["proxy"] == entry["text"]["direct"] == "Hello from upstream" for entry in result.values())
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
