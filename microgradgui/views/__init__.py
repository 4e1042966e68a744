"""The live views. Each speaks the one interface of `base.LiveView`: `reset(setup)` and
`draw(snapshot)`. The window places the network diagram and the decision plot side by side
and every view of `TABS` in the tab row below, in this order; a new view is a new module
here and one entry in `TABS`.
"""
from .decision import DecisionPlot
from .distributions import DistributionsView
from .evals import EvalsView
from .gradcheck import GradCheckView
from .health import HealthView
from .lens import LensView
from .loss import LossView
from .network import NetworkView
from .runs import RunsView
from .weights import WeightsView

TABS = (LossView, WeightsView, DistributionsView, EvalsView, RunsView, HealthView, GradCheckView, LensView)

__all__ = ["TABS", "DecisionPlot", "HealthView", "LensView", "NetworkView", "RunsView"]
