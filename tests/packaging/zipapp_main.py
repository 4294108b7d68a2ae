# virt-expose as one file: the archive's __main__.py (the layout and the start-up: zipapp_start.py).
# Python compiles this part at every run, so it does no more than find the unpacked, compiled cache.
import os
import sys

BUILD = "unbuilt"  # set by build_dist.py: "<version>-<digest of the archive's contents>"

cache = os.environ.get("VIRT_EXPOSE_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "virt-expose")
root = os.path.join(cache, BUILD)
app = os.path.join(root, "app")
if os.path.exists(os.path.join(app, ".compiled-" + str(sys.implementation.cache_tag))):
    sys.path.insert(0, app)
import _virt_expose_start  # noqa: E402 - from the cache when it is ready, else from the archive

if __name__ == "__main__":
    sys.exit(_virt_expose_start.main(os.path.dirname(os.path.abspath(__file__)), root))
