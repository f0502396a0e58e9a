"""The [mdevmig] options of nova.conf, registered on Nova's global CONF
when this module is imported, which importing the package mdevmig_nova
does (as out-of-tree Nova plugins do: Nova loads the filter class after
parsing its config files, and oslo.config reads a group's values from the
parsed files whenever the group is registered).

list_opts() feeds oslo-config-generator through the entry point
oslo.config.opts = mdevmig_nova (plugin/nova/setup.cfg):

    oslo-config-generator --namespace mdevmig_nova

prints the [mdevmig] section with every option's help and default.

Every option is mutable: on SIGHUP nova-scheduler re-reads its config
files with oslo.config's mutate_config_files, which changes only options
marked mutable, and the filter reads its options at each request.
"""

from oslo_config import cfg
from oslo_config import types

mdevmig_group = cfg.OptGroup(
    "mdevmig",
    title="mdevmig options",
    help="""
Where MdevMigrationFilter finds mdevmig-sched, the service that
answers which hosts can take an instance's mediated devices (mdevs),
and what the filter does when that service cannot answer.
""")

mdevmig_opts = [
    cfg.ListOpt(
        "url",
        item_type=types.URI(schemes=["http", "https"]),
        default=["http://127.0.0.1:7400"],
        mutable=True,
        help="""
Base URL of mdevmig-sched (its ``listen`` address), or a
comma-separated list of several mdevmig-sched services fed by the
same collectors (at most 8, as many as a collector publishes to).
The filter posts to ``<url>/v1/filter`` once per scheduling request,
to one service at a time. It starts with the one that answered last
(the first one listed until one has answered, and again when the
list changes without it); when that one cannot be reached, does not
answer within ``timeout``, fails (HTTP 5xx) or sends something that
is not an answer, it tries the next, wrapping around the list, and
logs a warning naming each one that failed, why, and the one that
answered. An HTTP 4xx (a wrong token, a refused client certificate,
a request the service refuses) is an answer, not a failure: the next
service would answer alike, so it is not asked. The request is
unanswered (see ``fail_open``) only when every URL has failed. With
https, each service's certificate is verified against ``ca_file``
(default: the system's CA store) and must name the host given for it
here (its DNS name or IP address).
"""),
    cfg.StrOpt(
        "token_file",
        default="/etc/mdevmig/token",
        mutable=True,
        help="""
File holding the cluster bearer token (the one mdevmig-sched and
every collector hold). It must be readable by the user
nova-scheduler runs as, and like every mdevmig secret give others no
permission and its group no write (e.g. root:nova 0640, or 0600
owned by that user: mdevmig-sched, the collectors and the mdevmig
command refuse 0644, 0660 or 0666). It is read on every request, so
a rotated token takes effect at once.
"""),
    cfg.FloatOpt(
        "timeout",
        default=10.0,
        min=0.1,
        max=600.0,
        mutable=True,
        help="""
Seconds one mdevmig-sched may take over one request, all of it:
connecting (and the TLS handshake), sending the request and reading
its whole answer. Then the next ``url`` is tried, so with several
URLs that all hang a request may wait this long for each. The
service probes every candidate host within its own probe_timeout (3
seconds by default), so its answer normally comes well within this.
"""),
    cfg.StrOpt(
        "ca_file",
        mutable=True,
        help="""
PEM file of the CA certificate(s) that mdevmig-sched's certificate
is verified against (each https ``url``'s), instead of the system's
CA store. A certificate that does not verify is that service's
failure, logged with the host and the reason, and the next ``url``
is tried; the filter never falls back to an unverified connection or
to http. This option, ``client_cert_file`` or ``client_key_file``
set while any ``url`` is http is an error too, and no service is
asked: the token would travel in the clear. The TLS files are read
again when they change (a renewed certificate counts at the next
request). An unreadable file is an error naming the option, and no
service is asked (see ``fail_open``).
"""),
    cfg.StrOpt(
        "client_cert_file",
        mutable=True,
        help="""
PEM file of the client certificate the filter presents to
mdevmig-sched, for a service with mutual TLS (its
``tls_client_ca_file`` set); it must be issued by that CA for client
use (extended key usage clientAuth). Holds the private key too
unless ``client_key_file`` is set.
"""),
    cfg.StrOpt(
        "client_key_file",
        mutable=True,
        help="""
PEM file of the private key of ``client_cert_file``. A secret: a
regular file that gives others no permission and its group no write
(group read for the user nova-scheduler runs as is fine, e.g.
root:nova 0640; 0644, 0660 or 0666 is an error naming the option,
and no service is asked).
"""),
    cfg.BoolOpt(
        "fail_open",
        default=False,
        mutable=True,
        help="""
What to do when mdevmig-sched cannot answer (no ``url`` answered:
each was unreachable, timed out, failed or sent an answer that
cannot be read; or one refused the request with an HTTP 4xx). False
(fail closed): no host passes, so no move goes ahead unchecked; the
error log says why. True: every host passes, with a warning, and a
move may fail late on a driver mismatch, as it would without
mdevmig.
"""),
]


def register_opts(conf):
    conf.register_group(mdevmig_group)
    conf.register_opts(mdevmig_opts, group=mdevmig_group)


def list_opts():
    """[(group, options)], the shape oslo-config-generator iterates."""
    return [(mdevmig_group, mdevmig_opts)]


CONF = cfg.CONF
register_opts(CONF)
