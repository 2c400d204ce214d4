"""Voila for the app page, with one fix: the page sets the ``_xsrf`` cookie.

When a page is closed or reloaded, Voila's front end asks the server to shut its kernel
down (a ``sendBeacon`` POST to ``/voila/api/shutdown/<kernel>`` carrying the ``_xsrf``
cookie's value).  Voila 0.5's page handler never reads its XSRF token, so tornado never
sets that cookie, the beacon carries an empty token and jupyter_server refuses it (403):
the kernel of every page left behind ran on until the idle culler found it, and the
browser logged an error.  :func:`set_xsrf_cookie`, run as Voila's ``prelaunch_hook``
before the page's kernel starts (and before any byte of the page is sent), reads the
token, which makes tornado set the cookie; the beacon is then accepted (204) and the
kernel is shut down at once.  The idle culler (``--cull-idle``) still reclaims kernels of
pages that vanished without an unload (a crashed browser, a lost network).

Run as ``python -m workbench.app.serve NOTEBOOK [voila options]`` (``workbench app``
does).
"""

from __future__ import annotations

import sys


def set_xsrf_cookie(handler, notebook=None, cwd=None):
    """Voila ``prelaunch_hook``: read the handler's XSRF token so tornado sets the
    ``_xsrf`` cookie on the page's response; the notebook is left as it is."""
    handler.xsrf_token  # noqa: B018 - reading it sets the cookie
    return None


def main(argv=None) -> None:
    from traitlets.config import Config
    from voila.app import Voila

    config = Config()
    config.VoilaConfiguration.prelaunch_hook = set_xsrf_cookie
    Voila.launch_instance(argv=sys.argv[1:] if argv is None else argv, config=config)


if __name__ == "__main__":
    main()
