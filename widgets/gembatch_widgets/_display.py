"""Display modes auto | widget | static: a live widget view plus a static snapshot that papermill keeps."""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from typing import Any, Literal, cast

import ipywidgets as widgets

from gembatch.errors import InputError

__all__ = ["DISPLAY_ENV", "MODES", "DisplayMode", "SnapshotDisplay", "resolve_display"]

DisplayMode = Literal["auto", "widget", "static"]
MODES: tuple[DisplayMode, ...] = ("auto", "widget", "static")
DISPLAY_ENV = "GEMBATCH_DISPLAY"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def resolve_display(display: str | None = None) -> DisplayMode:
    """The display mode: ``display`` if given, else ``$GEMBATCH_DISPLAY``, else ``"auto"``.

    ``auto`` sends both the live widget and the static snapshot (JupyterLab shows the widget);
    once the panel has finished (its run is done), the displayed output is replaced by the final
    snapshot alone, so papermill, nbconvert and GitHub keep it rather than a widget view that needs
    a script to render. ``widget`` sends only the live view, ``static`` only the snapshot (no comms
    at all in the output).
    """
    source = "display="
    if display is None:
        display, source = os.environ.get(DISPLAY_ENV, "").strip() or "auto", f"${DISPLAY_ENV}="
    mode = display.strip().lower()
    if mode not in MODES:
        raise InputError(f"{source}{display!r} is not a display mode; use one of {', '.join(MODES)}")
    return cast(DisplayMode, mode)


class SnapshotDisplay:
    """Base of the panels: ``_repr_mimebundle_`` and a display handle refreshed on state changes.

    Subclasses set ``self.widget`` (the root ipywidget) and implement :meth:`snapshot_html`,
    :meth:`snapshot_text` and :meth:`snapshot_key` (changes whenever the snapshot would).
    Background threads never touch the display handle: they only set traits, and the handle is
    refreshed from the kernel's main thread after each cell (``post_execute``) and by explicit
    calls (:meth:`refresh_display`), so papermill records the final state.
    """

    widget: widgets.Widget
    display_mode: DisplayMode

    def _init_display(self, display: str | None) -> None:
        self.display_mode = resolve_display(display)
        self._handles: list[Any] = []
        self._sent_key: object = None
        self._hook: Any = None
        self._display_lock = threading.Lock()

    # --- what subclasses provide -------------------------------------------------------------
    def snapshot_html(self) -> str:  # pragma: no cover - abstract
        """The static HTML snapshot (escaped, bounded, chart as inline PNG)."""
        raise NotImplementedError

    def snapshot_text(self) -> str:  # pragma: no cover - abstract
        """The plain-text summary."""
        raise NotImplementedError

    def snapshot_key(self) -> object:
        """A value that changes when the snapshot changes state (default: the HTML itself)."""
        return self.snapshot_html()

    def finished(self) -> bool:
        """Whether nothing live is left to show (``auto`` then keeps only the final snapshot)."""
        return False

    # --- Jupyter protocol ----------------------------------------------------------------------
    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None, *, final: bool = False
    ) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": self.snapshot_text()}
        if self.display_mode in ("auto", "static"):
            bundle["text/html"] = self.snapshot_html()
        if self.display_mode == "widget" or (self.display_mode == "auto" and not final):
            view = self.widget._repr_mimebundle_() or {}
            if WIDGET_MIME in view:
                bundle[WIDGET_MIME] = view[WIDGET_MIME]
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        with self._display_lock:
            self._sent_key = self.snapshot_key()
            bundle = self._repr_mimebundle_()
        self._handles.append(display(bundle, raw=True, display_id=True))
        self._install_hook()

    def refresh_display(self, force: bool = False) -> bool:
        """Re-send the bundle to every place this panel is displayed, if its state changed.

        Returns whether an update was sent. Call from the kernel's main thread (a cell, a button
        callback); the panel does so itself after each cell and when it finishes.
        """
        if not self._handles or self.display_mode == "widget":
            return False
        with self._display_lock:
            key = self.snapshot_key()
            if not force and key == self._sent_key:
                return False
            self._sent_key = key
            bundle = self._repr_mimebundle_(final=self.finished())
        for handle in self._handles:
            handle.update(bundle, raw=True)
        return True

    def _install_hook(self) -> None:
        if self._hook is not None:
            return
        from IPython import get_ipython  # an ipywidgets dependency

        shell = get_ipython()
        if shell is None:
            return
        ref = weakref.ref(self)

        def _after_cell(*_args: object) -> None:
            panel = ref()
            if panel is not None:
                panel.refresh_display()

        shell.events.register("post_execute", _after_cell)
        self._hook = (shell, _after_cell)

    def _remove_hook(self) -> None:
        if self._hook is None:
            return
        shell, callback = self._hook
        self._hook = None
        with contextlib.suppress(ValueError):
            shell.events.unregister("post_execute", callback)
