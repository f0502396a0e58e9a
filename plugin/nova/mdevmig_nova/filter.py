"""MdevMigrationFilter: Nova's scheduler asks mdevmig-sched, once per
request, which candidate hosts can take the instance's mediated devices.

Nova only checks that a destination offers the same mdev type, so a driver
version the destination refuses surfaces as a failed live migration, late.
mdevmig-sched answers with a live write-probe of each source mdev's
migration_version on each candidate host (DESIGN.md §3). This module only
asks and relays: one POST /v1/filter with the instance UUID and every
candidate host name; the hosts in its "destinations" pass, in Nova's order.

Nova never hands the source host to filters (it is in ignore_hosts), and
nothing in the RequestSpec says "this is a move" -- _nova_check_type is
only ever "rebuild". The service tells moves from boots itself: an instance
it knows runs on a host and has mdevs to check; one it does not know is a
new boot and every host passes, unprobed.

[mdevmig] url may list several scheds fed by the same collectors
(DESIGN.md §7): the request goes to one, and to the next when that one
cannot be reached, times out, fails with a 5xx or sends no usable answer;
a 4xx is an answer. Only when none answers is the request unanswered.

Over https each service's certificate is verified (against [mdevmig]
ca_file, else the system's CA store) and must name the host of its URL; a
filter with client_cert_file presents it, for a service with mutual TLS
(DESIGN.md §7). A certificate that does not verify is that sched's
failure like any other: never a retry without verification, nor over
http.
"""

import http.client
import json
import os
import socket
import ssl
import stat
import time
import urllib.parse

from oslo_log import log as logging

from nova.scheduler import filters
from nova.scheduler import utils

from mdevmig_nova import conf as mdevmig_conf

LOG = logging.getLogger(__name__)

# Nova's global CONF (oslo.config's), with the [mdevmig] group on it.
CONF = mdevmig_conf.CONF

FILTER_PATH = "/v1/filter"
# Reasons named in the one log line per request; the rest are counted.
MAX_REASONS = 20


class ServiceError(Exception):
    """mdevmig-sched gave no answer the filter can use."""


def _read_token():
    path = CONF.mdevmig.token_file
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as e:
        raise ServiceError("cannot read [mdevmig] token_file %s: %s"
                           % (path, e.strerror or e))
    if not token:
        raise ServiceError("[mdevmig] token_file %s is empty" % path)
    return token


# The [mdevmig] options that name TLS files.
TLS_OPTIONS = ("ca_file", "client_cert_file", "client_key_file")

# (key, ssl.SSLContext) of the last context made. The key holds the TLS
# option values and the version of each file, so a value changed on SIGHUP
# or a renewed certificate counts at the next request, while a request
# costs no more than a stat of each file.
_tls_cache = None


# The permission bits a secret's file must not have, the rule of
# common/keyfile.h that mdevmig-sched, the collectors and the mdevmig
# command apply to the same kind of file (DESIGN.md §7): any for others,
# and group write (a member of the group could swap in a key it knows).
# Group read is the operator's way to share it with nova-scheduler's user
# (root:nova 0640).
SECRET_FORBIDDEN = 0o027


def _secret_mode_error(mode):
    """Why a secret's mode is refused, each permission named, with the one
    chmod that fixes it: keyfile.c's words."""
    mode = stat.S_IMODE(mode)
    others = [word for bit, word in ((0o004, "read"), (0o002, "write"),
                                     (0o001, "execute")) if mode & bit]
    group_write = bool(mode & 0o020)
    faults = []
    if others:
        words = (", ".join(others[:-1]) + " and " + others[-1]
                 if len(others) > 1 else others[0])
        faults.append("others %s it" % words)
    if group_write:
        faults.append("its group write it")
    fix = ",".join((["g-w"] if group_write else []) +
                   (["o-rwx"] if others else []))
    return ("mode %03o lets %s; chmod %s it (0600, or 0640 for a group that "
            "reads it, e.g. root:nova)" % (mode, " and ".join(faults), fix))


def _tls_file(option, path, secret):
    """What identifies the version of the file [mdevmig] option names."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise ServiceError("[mdevmig] %s %s: %s"
                           % (option, path, e.strerror or e))
    if not stat.S_ISREG(st.st_mode):
        raise ServiceError("[mdevmig] %s %s: not a regular file"
                           % (option, path))
    if secret and st.st_mode & SECRET_FORBIDDEN:
        raise ServiceError("[mdevmig] %s %s: %s"
                           % (option, path, _secret_mode_error(st.st_mode)))
    return (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
            st.st_ctime_ns)


def _load_error(e):
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def _tls_context():
    """The SSLContext of the current [mdevmig] TLS options, made anew only
    when they or their files changed."""
    global _tls_cache
    ca_file, cert_file, key_file = (getattr(CONF.mdevmig, o) or None
                                    for o in TLS_OPTIONS)
    if key_file and not cert_file:
        raise ServiceError("[mdevmig] client_key_file is set but "
                           "client_cert_file is not")
    key = (ca_file and _tls_file("ca_file", ca_file, False),
           cert_file and _tls_file("client_cert_file", cert_file,
                                   not key_file),
           key_file and _tls_file("client_key_file", key_file, True))
    cached = _tls_cache
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except OSError as e:
        raise ServiceError("cannot load [mdevmig] ca_file %s: %s"
                           % (ca_file, _load_error(e)))
    if cert_file:
        try:
            context.load_cert_chain(cert_file, key_file)
        except OSError as e:
            raise ServiceError(
                "cannot load [mdevmig] client_cert_file %s%s: %s"
                % (cert_file,
                   " with client_key_file %s" % key_file if key_file else "",
                   _load_error(e)))
    _tls_cache = (key, context)
    return context


# The most schedulers [mdevmig] url may list: as many as a collector
# publishes to (DESIGN.md §7), so every one listed can be fed.
MAX_URLS = 8
# Each read of an answer; the deadline bounds the sum.
READ_CHUNK = 65536

# The URL of the sched that answered last, in this process. Each request
# starts there rather than at the first URL: a sched that hangs (stopped,
# swapping, behind a link that drops packets) costs a whole timeout every
# time it is tried, and trying it first would add that to every scheduling
# decision until it came back. Every sched is fed by the same collectors and
# confirms each destination with live probes, so any of them gives the same
# answer: nothing is gained by going back to the first. A list changed on
# SIGHUP starts from this URL if it is still listed, else from its first.
_last_answered = None


class Unanswered(ServiceError):
    """One mdevmig-sched gave no answer (unreachable, timed out, a 5xx or
    something that is not an answer): the next URL is asked."""


def _urls():
    """[mdevmig] url as a list, checked as a whole: a mistake in it is the
    operator's to fix, not a sched to skip (else a typo in a standby URL
    would stay hidden until the first sched fails)."""
    urls = list(dict.fromkeys(u.strip() for u in CONF.mdevmig.url or ()
                              if u and u.strip()))
    if not urls:
        raise ServiceError("[mdevmig] url is empty")
    if len(urls) > MAX_URLS:
        raise ServiceError("[mdevmig] url lists %d URLs; at most %d"
                           % (len(urls), MAX_URLS))
    plain = [u for u in urls if urllib.parse.urlsplit(u).scheme != "https"]
    tls = [o for o in TLS_OPTIONS if getattr(CONF.mdevmig, o)]
    if plain and tls:
        # The operator meant TLS: no token in the clear instead.
        raise ServiceError("[mdevmig] url %s is not https, but %s is set"
                           % (", ".join(plain), " and ".join(tls)))
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        try:
            parts.port
        except ValueError as e:
            raise ServiceError("[mdevmig] url %s: %s" % (url, e))
        if not parts.hostname:
            raise ServiceError("[mdevmig] url %s has no host" % url)
    return urls


def _rotation(urls):
    """The URLs in the order this request tries them (see _last_answered)."""
    last = _last_answered
    if last in urls:
        at = urls.index(last)
        return urls[at:] + urls[:at]
    return urls


class _Deadline:
    """The time one attempt has left; every blocking step gets the rest."""

    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        return left


def _unverified(url, error):
    """Why a certificate of mdevmig-sched did not verify: the host it was
    checked for and the verifier's reason."""
    ca_file = CONF.mdevmig.ca_file
    return ("TLS certificate of mdevmig-sched at %s not accepted: %s "
            "(verified against %s)"
            % (urllib.parse.urlsplit(url).hostname,
               error.verify_message or error.reason or error,
               "[mdevmig] ca_file " + ca_file if ca_file
               else "the system's CA store"))


def _status_message(status, data):
    try:
        message = json.loads(data)["error"]
    except (ValueError, TypeError, KeyError):
        message = data[:200].decode("utf-8", "replace").strip()
    return "HTTP %d from mdevmig-sched: %s" % (status, message)


def _exchange(url, context, headers, body, deadline):
    """POST body to one sched: (status, data), all within the deadline."""
    parts = urllib.parse.urlsplit(url)
    # The port is always given: http.client would read an IPv6 literal's
    # last group as one.
    port = parts.port or (443 if context is not None else 80)
    sock = socket.create_connection((parts.hostname, port),
                                    timeout=deadline.left())
    try:
        sock.settimeout(deadline.left())
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname=parts.hostname)
        # http.client only for the HTTP framing, on the socket made here
        # (its own connect would give each step the whole timeout).
        cls = (http.client.HTTPSConnection if context is not None
               else http.client.HTTPConnection)
        conn = cls(parts.hostname, port)
        conn.sock = sock
        sock.settimeout(deadline.left())
        conn.request("POST", parts.path.rstrip("/") + FILTER_PATH, body=body,
                     headers=headers)
        sock.settimeout(deadline.left())
        resp = conn.getresponse()
        try:
            chunks = []
            # Once the whole answer is read, a server that closes the
            # connection has had its socket closed under us: no timeout
            # to set then, nor anything left to wait for.
            while not resp.isclosed():
                sock.settimeout(deadline.left())
                chunk = resp.read(READ_CHUNK)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            resp.close()
        return resp.status, b"".join(chunks)
    finally:
        sock.close()


def _ask_one(url, context, headers, body, timeout):
    """One sched's answer; Unanswered when the next URL should be asked."""
    deadline = _Deadline(timeout)
    try:
        status, data = _exchange(url, context, headers, body, deadline)
    except ssl.SSLCertVerificationError as e:
        raise Unanswered(_unverified(url, e))
    except TimeoutError:
        raise Unanswered("timed out ([mdevmig] timeout)")
    except (OSError, http.client.HTTPException) as e:
        raise Unanswered(str(e) or type(e).__name__)
    if 400 <= status < 500:
        # The sched judged the request itself (a wrong token, a refused
        # client certificate, a request it cannot take): the others share
        # the token and the CA and would judge it alike, so asking them
        # would only hide a mistake the operator has to fix.
        raise ServiceError(_status_message(status, data))
    if status != 200:
        raise Unanswered(_status_message(status, data))
    try:
        answer = json.loads(data)
    except ValueError as e:
        raise Unanswered("mdevmig-sched's answer is not JSON: %s" % e)
    if (not isinstance(answer, dict) or
            not isinstance(answer.get("destinations"), list) or
            not all(isinstance(d, str) for d in answer["destinations"]) or
            not isinstance(answer.get("hosts", []), list)):
        raise Unanswered("mdevmig-sched's answer has no list of destinations")
    return answer


def ask(instance_uuid, host_names):
    """One POST /v1/filter, to the first sched in _rotation's order that
    answers: (its answer, checked enough to use; its URL). A sched that
    fails is logged, with the one that answered, at warning level; only
    when all fail is it a ServiceError naming each and why.

    Asking another sched after a timeout is safe: a filter request changes
    nothing but probe caches, and a sched still working on it finishes
    alone."""
    global _last_answered
    urls = _urls()
    token = _read_token()
    context = (_tls_context()
               if any(urllib.parse.urlsplit(u).scheme == "https" for u in urls)
               else None)
    body = json.dumps({"instance": instance_uuid, "hosts": host_names})
    headers = {"Content-Type": "application/json",
               "Accept": "application/json",
               "Authorization": "Bearer " + token,
               "User-Agent": "mdevmig-nova-filter"}
    timeout = CONF.mdevmig.timeout
    failed = []
    for url in _rotation(urls):
        https = urllib.parse.urlsplit(url).scheme == "https"
        start = time.monotonic()
        try:
            answer = _ask_one(url, context if https else None, headers, body,
                              timeout)
        except Unanswered as e:
            failed.append("%s: %s, after %.1f s"
                          % (url, e, time.monotonic() - start))
            continue
        except ServiceError as e:
            _last_answered = url
            raise ServiceError("%s: %s" % (url, e))
        _last_answered = url
        if failed:
            LOG.warning("mdevmig-sched did not answer at %(failed)s; "
                        "%(url)s answered",
                        {"failed": "; ".join(failed), "url": url},
                        instance_uuid=instance_uuid)
        return answer, url
    if len(failed) == 1:
        raise ServiceError(failed[0])
    raise ServiceError("none of the %d mdevmig-sched URLs answered: %s"
                       % (len(failed), "; ".join(failed)))


def _instance_uuid(spec_obj):
    if spec_obj is not None and "instance_uuid" in spec_obj:
        return spec_obj.instance_uuid
    return None


def _reasons(answer, names, passing):
    """'host: why' for each host kept out, at most MAX_REASONS of them."""
    entries = {}
    for entry in answer.get("hosts") or ():
        if isinstance(entry, dict) and isinstance(entry.get("host"), str):
            entries[entry["host"]] = entry
    out = []
    for name in names:
        if name in passing:
            continue
        entry = entries.get(name)
        if entry is None:
            why = answer.get("reason") or "not confirmed"
        else:
            why = str(entry.get("verdict") or "not confirmed")
            if entry.get("error"):
                why += " (%s)" % entry["error"]
        out.append("%s: %s" % (name, why))
    if len(out) > MAX_REASONS:
        out = out[:MAX_REASONS] + ["and %d more" % (len(out) - MAX_REASONS)]
    return "; ".join(out)


class MdevMigrationFilter(filters.BaseHostFilter):
    """Keeps out every host that cannot take the instance's mediated devices.

    For an instance that already runs with mdevs (a live migration, cold
    migration, resize, evacuation or unshelve), a host passes only when
    mdevmig-sched confirms, by a write-probe of each mdev's
    migration_version on that host, that its driver accepts the device
    state and it has a free instance of each type; hosts with an older or
    other-major driver, without the type, without capacity, without the
    attribute or whose collector does not answer are kept out. A new boot
    (an instance mdevmig does not know) passes every host. When
    mdevmig-sched cannot answer, no host passes unless [mdevmig] fail_open
    is true.
    """

    # A rebuild stays on its host; whether that host can take the mdevs it
    # already holds is no question.
    RUN_ON_REBUILD = False

    # Each instance of a multi-create request is asked about on its own.
    run_filter_once_per_request = False

    def filter_all(self, filter_obj_list, spec_obj):
        """The hosts that pass, in Nova's order, from one request to
        mdevmig-sched for the whole list."""
        host_states = list(filter_obj_list)
        if not self.RUN_ON_REBUILD and utils.request_is_rebuild(spec_obj):
            # What BaseHostFilter._filter_one does for host_passes callers.
            return iter(host_states)
        return iter(self._passing(host_states, spec_obj))

    def host_passes(self, host_state, spec_obj):
        """For callers that go one host at a time: a request for that one."""
        return bool(self._passing([host_state], spec_obj))

    def _passing(self, host_states, spec_obj):
        if not host_states:
            return []
        instance = _instance_uuid(spec_obj)
        if not instance:
            LOG.debug("No instance UUID in the request: all %d host(s) "
                      "pass", len(host_states))
            return host_states
        # One host may stand for several nodes (HostStates); ask once each.
        names = list(dict.fromkeys(h.host for h in host_states))
        start = time.monotonic()
        try:
            answer, url = ask(instance, names)
        except ServiceError as e:
            return self._unanswered(e, host_states, names, instance)
        passing = set(answer["destinations"])
        result = [h for h in host_states if h.host in passing]
        ms = (time.monotonic() - start) * 1000
        if not answer.get("known", True):
            LOG.debug("Not known to mdevmig (a new boot): %(passed)d of "
                      "%(total)d host(s) pass, %(ms).0f ms",
                      {"passed": len(passing & set(names)),
                       "total": len(names), "ms": ms},
                      instance_uuid=instance)
            return result
        kept = _reasons(answer, names, passing)
        LOG.info("mdevs on %(source)s%(stale)s: %(passed)d of %(total)d "
                 "host(s) can take them, %(probes)s probe(s), "
                 "%(ms).0f ms%(sched)s%(why)s%(kept)s",
                 {"source": answer.get("source_host") or "?",
                  "stale": (" (source collector down: versions from the "
                            "registry)" if answer.get("source_stale") else ""),
                  "passed": len(passing & set(names)), "total": len(names),
                  "probes": answer.get("probes_sent", "?"), "ms": ms,
                  # Which one, once there is a choice.
                  "sched": (" (mdevmig-sched at %s)" % url
                            if len(CONF.mdevmig.url or ()) > 1 else ""),
                  "why": ("; not migratable: %s" % answer.get("reason")
                          if answer.get("migratable") is False else ""),
                  "kept": "; kept out: " + kept if kept else ""},
                 instance_uuid=instance)
        return result

    @staticmethod
    def _unanswered(error, host_states, names, instance):
        if CONF.mdevmig.fail_open:
            LOG.warning("mdevmig-sched could not answer (%(error)s): all "
                        "%(total)d host(s) pass unchecked, as [mdevmig] "
                        "fail_open is true",
                        {"error": error, "total": len(names)},
                        instance_uuid=instance)
            return host_states
        LOG.error("mdevmig-sched could not answer (%(error)s): none of "
                  "%(total)d host(s) pass, as [mdevmig] fail_open is false",
                  {"error": error, "total": len(names)},
                  instance_uuid=instance)
        return []
