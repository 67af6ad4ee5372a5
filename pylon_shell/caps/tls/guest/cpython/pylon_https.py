"""Runs INSIDE the CPython guest as `pylon.https`: the HTTPS helper MicroPython
has (it has no socket or ssl module), so a script that uses it runs on both.
Here it is http.client over the guest's own ssl; like MicroPython's, it makes
one request and does not follow redirects."""


class Response:
    """What came back: status, reason, headers (a list of pairs), body (bytes)."""

    def __init__(self, status, reason, headers, body, url):
        self.status, self.reason, self.headers, self.body, self.url = (
            status, reason, headers, body, url
        )

    def header(self, name, default=None):
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return default

    def text(self, encoding="utf-8"):
        return self.body.decode(encoding)

    def json(self):
        import json

        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.reason} {len(self.body)} bytes>"


def request(method, url, body=None, headers=None, cafile=None, timeout=None):
    """One HTTPS request. The server's certificate is checked against `cafile`
    if given, else the host's trust store."""
    # Imported here: ssl needs the host, which is not there while the
    # component is built.
    import http.client
    import ssl
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"not an https:// URL: {url!r}")
    context = ssl.create_default_context(cafile=cafile)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if isinstance(body, str):
        body = body.encode()
    connection = http.client.HTTPSConnection(
        parts.hostname, parts.port or 443, timeout=timeout, context=context
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Response(response.status, response.reason, response.getheaders(),
                        response.read(), url)
    finally:
        connection.close()


def get(url, headers=None, cafile=None, timeout=None):
    return request("GET", url, None, headers, cafile, timeout)


def post(url, body=b"", headers=None, cafile=None, timeout=None):
    return request("POST", url, body, headers, cafile, timeout)
