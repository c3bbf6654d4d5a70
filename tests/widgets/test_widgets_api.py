"""gembatch_widgets' curated public surface."""

from __future__ import annotations

import gembatch_widgets


def test_all_is_sorted_and_every_name_resolves():
    assert list(gembatch_widgets.__all__) == sorted(gembatch_widgets.__all__)
    for name in gembatch_widgets.__all__:
        assert getattr(gembatch_widgets, name) is not None, name


def test_panels_are_the_documented_entry_points():
    assert {"MonitorPanel", "SubmitPanel"} <= set(gembatch_widgets.__all__)
    assert gembatch_widgets.DISPLAY_ENV == "GEMBATCH_DISPLAY"


def test_docstring_examples_run():
    import doctest

    from gembatch_widgets import _charts

    from gembatch.presentation import html_repr as _html

    for module in (_html, _charts):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__
        assert result.attempted > 0, module.__name__
