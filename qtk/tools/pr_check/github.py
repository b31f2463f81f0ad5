"""A small GitHub REST client (stdlib urllib): open pull requests, one pull request, a repository.

Works with api.github.com, GitHub Enterprise (`https://HOST/api/v3`) and Gitea-compatible APIs
(`https://HOST/api/v1`). Pages are followed through the `Link: <...>; rel="next"` header. Rate
limits (403/429 with `Retry-After`, or `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset`) are
waited out when the wait fits in `max_wait` seconds, else reported with the reset time.

The token is only ever put in an Authorization header, and only for the API's own host (also on
redirects); every error message is scrubbed of it.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable

from qtk.errors import QtkError

DEFAULT_API = "https://api.github.com"
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class _SameHostAuthRedirect(urllib.request.HTTPRedirectHandler):
    """Follow redirects (renamed repos answer 301), keeping the token only on the same host."""

    def __init__(self, host: str, auth: str | None):
        self.host, self.auth = host, auth

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and self.auth and urllib.parse.urlsplit(newurl).netloc == self.host:
            new.add_unredirected_header("Authorization", self.auth)
        return new


class GitHubClient:
    def __init__(self, api_url: str = DEFAULT_API, token: str | None = None, max_wait: float = 60.0,
                 timeout: float = 30.0, sleep: Callable[[float], None] = time.sleep):
        self.api_url = api_url.rstrip("/")
        parts = urllib.parse.urlsplit(self.api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise QtkError(f"--api-url {api_url!r} is not an http(s) URL")
        self.host = parts.netloc
        self.token = token or None
        self.max_wait, self.timeout, self.sleep = max_wait, timeout, sleep
        self._auth = f"Bearer {self.token}" if self.token else None
        self._opener = urllib.request.build_opener(_SameHostAuthRedirect(self.host, self._auth))

    def scrub(self, text: str) -> str:
        return text.replace(self.token, "***") if self.token else text

    def get(self, path: str, params: dict[str, Any] | None = None) -> tuple[Any, dict[str, str]]:
        """GET an API path (or a full URL on the API host); JSON body and headers."""
        url = path if "://" in path else f"{self.api_url}/{path.lstrip('/')}"
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        if urllib.parse.urlsplit(url).netloc != self.host:
            raise QtkError(f"refusing to follow {urllib.parse.urlsplit(url).netloc}: not the API host {self.host}")
        waited = 0.0
        while True:
            try:
                with self._opener.open(self._request(url), timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8") or "null"), dict(resp.headers)
            except urllib.error.HTTPError as e:
                wait = self._rate_limit_wait(e, waited)
                self.sleep(wait)
                waited += wait
            except urllib.error.URLError as e:
                raise QtkError(self.scrub(f"cannot reach {self.api_url}: {e.reason}")) from None
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise QtkError(f"{self._path(url)}: the API answered something that is not JSON") from None

    def paginate(self, path: str, params: dict[str, Any] | None = None, max_pages: int = 1000) -> list[Any]:
        """All items of a list endpoint, following `Link: rel="next"`."""
        items, url, query = [], path, {"per_page": 100, **(params or {})}
        for _ in range(max_pages):
            page, headers = self.get(url, query)
            if not isinstance(page, list):
                raise QtkError(f"{self._path(url)}: expected a JSON list")
            items.extend(page)
            match = _LINK_NEXT.search(_header(headers, "Link") or "")
            if not match:
                return items
            url, query = match.group(1), None  # the next URL carries its own query
        raise QtkError(f"{path}: more than {max_pages} pages")

    def repo(self, owner_repo: str) -> dict[str, Any]:
        return self.get(f"repos/{owner_repo}")[0]

    def open_pulls(self, owner_repo: str, base: str | None = None) -> list[dict[str, Any]]:
        params = {"state": "open", **({"base": base} if base else {})}
        pulls = self.paginate(f"repos/{owner_repo}/pulls", params)
        # Gitea ignores ?base=, so filter here as well
        return [p for p in pulls if base is None or p.get("base", {}).get("ref") == base]

    def pull(self, owner_repo: str, number: int) -> dict[str, Any]:
        return self.get(f"repos/{owner_repo}/pulls/{number}")[0]

    def _request(self, url: str) -> urllib.request.Request:
        req = urllib.request.Request(url, headers={
            "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "qtk-pr-check"})
        if self._auth:
            req.add_unredirected_header("Authorization", self._auth)
        return req

    def _rate_limit_wait(self, e: urllib.error.HTTPError, waited: float) -> float:
        """Seconds to wait before retrying a rate-limited request; raises for any other error."""
        headers = e.headers or {}
        retry_after = _header(headers, "Retry-After")
        remaining = _header(headers, "X-RateLimit-Remaining")
        limited = e.code in (403, 429) and (retry_after is not None or remaining == "0")
        message = self.scrub(_error_message(e))
        if not limited:
            hint = {401: " (check GITHUB_TOKEN)", 404: " (wrong OWNER/REPO, or the token cannot see it)"}
            raise QtkError(f"{self._path(e.url)}: HTTP {e.code} {message}{hint.get(e.code, '')}")
        if retry_after is not None and retry_after.strip().isdigit():
            wait = float(retry_after)
        else:
            reset = _header(headers, "X-RateLimit-Reset")
            wait = max(0.0, float(reset) - time.time()) + 1.0 if reset and reset.isdigit() else 60.0
        if waited + wait > self.max_wait:
            at = time.strftime("%H:%M:%S", time.localtime(time.time() + wait))
            advice = "" if self.token else "; set GITHUB_TOKEN for a higher limit"
            raise QtkError(f"API rate limit reached ({message}); it resets in {wait:.0f} s (at {at}), more than "
                           f"the {self.max_wait:.0f} s qtk waits{advice}")
        return wait

    def _path(self, url: str) -> str:
        return urllib.parse.urlsplit(url).path or url


def _header(headers: Any, name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _error_message(e: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(e.read().decode("utf-8")).get("message", e.reason))
    except Exception:  # noqa: BLE001 - the body of an error page is best effort
        return str(e.reason)
