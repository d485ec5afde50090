"""A logging proxy for gen.sh: forwards every request to notary-server and
writes the parts of each multipart POST (what the notary client uploads,
signed by it) to DIR/post-N/<role>.json. Usage: capture.py PORT UPSTREAM DIR"""
import email.parser, email.policy, http.server, os, sys, urllib.request, urllib.error

port, upstream, outdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
count = 0

class Proxy(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def forward(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.command == "POST" and "multipart" in self.headers.get("Content-Type", ""):
            count += 1
            d = os.path.join(outdir, "post-%d" % count)
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body)
            for part in msg.iter_parts():
                name = part.get_filename()
                path = os.path.join(d, name + ".json")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(part.get_payload(decode=True))
        req = urllib.request.Request(upstream + self.path, data=body if body else None, method=self.command,
                                     headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
        try:
            resp = urllib.request.urlopen(req)
        except urllib.error.HTTPError as e:
            resp = e
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = forward

http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy).serve_forever()
