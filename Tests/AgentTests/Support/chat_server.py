#!/usr/bin/env python3
"""An OpenAI-compatible chat completions server on loopback for the escalation tests (Python
standard library only; development tooling, never part of the agent).

Completions come from the real model: each request runs `vigil generate` with the request's system
and user messages, greedy. Flags turn on the endpoint behaviours the tests need: a slow reply, a
required bearer token, a refusal, a reply altered after generation (so that it fails Vigil's
verifier). Every request body is appended to --log as one JSON line.

  chat_server.py --port N --vigil PATH --model-file GGUF [--name NAME] [--delay S] [--token T]
                 [--refuse] [--append TEXT] [--log FILE] [--few-shot]
"""
import argparse
import http.server
import json
import subprocess
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--vigil", required=True)
parser.add_argument("--model-file", required=True)
parser.add_argument("--name", default="smollm2-135m-private")
parser.add_argument("--delay", type=float, default=0)
parser.add_argument("--token")
parser.add_argument("--refuse", action="store_true")
parser.add_argument("--append", default="")
parser.add_argument("--log")
parser.add_argument("--few-shot", action="store_true",
                    help="continue the messages as plain text (system, then the user turn, then 'Alert:') up to the "
                         "end of the line, as a base-model endpoint does, instead of the chat template")
args = parser.parse_args()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/") == "/v1/models":
            return self.reply(200, {"object": "list", "data": [{"id": args.name, "object": "model"}]})
        self.reply(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if args.log:
            with open(args.log, "a") as f:
                f.write(raw.decode() + "\n")
        if self.path != "/v1/chat/completions":
            return self.reply(404, {"error": {"message": "not found"}})
        if args.token and self.headers.get("Authorization") != "Bearer " + args.token:
            return self.reply(401, {"error": {"message": "invalid API key", "type": "invalid_request_error"}})
        body = json.loads(raw)
        system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        if args.delay:
            time.sleep(args.delay)
        if args.refuse:
            message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
            finish = "stop"
        else:
            command = [args.vigil, "generate", "--model", args.model_file, "--threads", "1",
                       "--max-tokens", str(body.get("max_tokens", 120))]
            if args.few_shot:
                command += ["--raw", "--stop", "\n", system + "\n\n" + user + "\nAlert:"]
            else:
                command += ["--system", system, user]
            out = subprocess.run(command, capture_output=True, text=True, timeout=120)
            if out.returncode != 0:
                return self.reply(500, {"error": {"message": out.stderr[-500:]}})
            message = {"role": "assistant", "content": out.stdout.strip() + args.append}
            finish = "stop"
        self.reply(200, {
            "id": "chatcmpl-%d" % time.time_ns(), "object": "chat.completion", "created": int(time.time()),
            "model": args.name, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})


server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
print("listening", flush=True)
sys.stdout.flush()
server.serve_forever()
