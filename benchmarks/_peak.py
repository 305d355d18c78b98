"""Source of ``peak_rss_mb()``, for the scripts the benchmarks run in fresh processes."""

PEAK_RSS_SOURCE = """
def peak_rss_mb():
    # VmHWM: this process's own peak (ru_maxrss keeps the parent's peak across exec on Linux)
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""
