"""The [mdevmig] options of nova.conf, registered on Nova's global CONF
when this module is imported (as out-of-tree Nova plugins do: Nova loads
the filter class after parsing its config files, and oslo.config reads a
group's values from the parsed files whenever the group is registered).
list_opts() feeds oslo-config-generator.
"""

from oslo_config import cfg

mdevmig_group = cfg.OptGroup(
    "mdevmig",
    title="mdevmig options",
    help="""
Where MdevMigrationFilter finds mdevmig-sched, the service that answers
which hosts can take an instance's mediated devices (mdevs), and what the
filter does when that service cannot answer.
""")

mdevmig_opts = [
    cfg.URIOpt(
        "url",
        default="http://127.0.0.1:7400",
        schemes=["http", "https"],
        help="""
Base URL of mdevmig-sched (its ``listen`` address). The filter posts to
``<url>/v1/filter`` once per scheduling request. HTTPS is verified against
the system's CA store.
"""),
    cfg.StrOpt(
        "token_file",
        default="/etc/mdevmig/token",
        help="""
File holding the cluster bearer token (the one mdevmig-sched and every
collector hold). It must be readable by the user nova-scheduler runs as;
it is read on every request, so a rotated token takes effect at once.
"""),
    cfg.FloatOpt(
        "timeout",
        default=10.0,
        min=0.1,
        max=600.0,
        help="""
Seconds to wait for mdevmig-sched to accept the connection, and again for
each read of its answer. The service probes every candidate host within its
own probe_timeout (3 seconds by default), so its answer normally comes well
within this.
"""),
    cfg.BoolOpt(
        "fail_open",
        default=False,
        help="""
What to do when mdevmig-sched cannot answer (unreachable, timed out, an
error status or an answer that cannot be read). False (fail closed): no
host passes, so no move goes ahead unchecked; the error log says why. True:
every host passes, with a warning, and a move may fail late on a driver
mismatch, as it would without mdevmig.
"""),
]


def register_opts(conf):
    conf.register_group(mdevmig_group)
    conf.register_opts(mdevmig_opts, group=mdevmig_group)


def list_opts():
    return {mdevmig_group: mdevmig_opts}


CONF = cfg.CONF
register_opts(CONF)
