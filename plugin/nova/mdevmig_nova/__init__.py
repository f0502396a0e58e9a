"""mdevmig for OpenStack Nova: a scheduler host filter that keeps a moving
instance away from hosts whose drivers cannot take its mediated devices.

The package is a thin shim over mdevmig-sched (DESIGN.md §3): the filter
asks the service once per scheduling request, and the service answers with
live write-probes on the candidate hosts. Enable it in nova.conf:

    [filter_scheduler]
    available_filters = nova.scheduler.filters.all_filters
    available_filters = mdevmig_nova.filter.MdevMigrationFilter
    enabled_filters = ...,MdevMigrationFilter

and point the [mdevmig] options (mdevmig_nova.conf) at the service.
"""

# Importing the package registers the [mdevmig] options on Nova's global
# CONF, whichever of its modules is imported first (the filter, or
# oslo-config-generator's entry point mdevmig_nova.conf:list_opts).
from mdevmig_nova import conf

__all__ = ["conf"]
