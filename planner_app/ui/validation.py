"""Invalid workloads made visible: warning badges on the canvas, problems for the panel.

:class:`WorkloadValidator` re-checks the document's workloads
(:func:`~planner_app.ui.workload_checks.workload_problems`) one event-loop
turn after any change that can break them (coalesced: a paste of a hundred
devices is one check), puts a :class:`WarningBadge` on each source or
consumer device of a broken workload, and emits :attr:`problemsChanged` for
the workloads panel. Badges are decorations of the device items; they hold
only the text of their tooltip.
"""

from __future__ import annotations

__all__ = ["WorkloadValidator", "WarningBadge"]

import shiboken6
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneHelpEvent,
    QStyleOptionGraphicsItem,
    QToolTip,
    QWidget,
)

from planner_app.ui.canvas.items import TILE
from planner_app.ui.canvas.scene import TopologyScene
from planner_app.ui.document import TopologyDocument
from planner_app.ui.workload_checks import WorkloadProblem, workload_problems

_BADGE_R = 8.0
_FONT = QFont()
_FONT.setPointSizeF(8.0)
_FONT.setBold(True)


class WarningBadge(QGraphicsItem):
    """A red "!" on the top-right corner of a device tile; its tooltip lists the problems."""

    def __init__(self, text: str, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.setToolTip(text)
        self.setPos(TILE / 2 - 3, -TILE / 2 + 3)
        self.setZValue(1)  # above the parent's tile

    def boundingRect(self) -> QRectF:
        return QRectF(-_BADGE_R - 1, -_BADGE_R - 1, 2 * _BADGE_R + 2, 2 * _BADGE_R + 2)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("#FFFFFF"), 1.5))
        painter.setBrush(QColor("#C62828"))
        painter.drawEllipse(QPointF(0, 0), _BADGE_R, _BADGE_R)
        painter.setFont(_FONT)
        painter.drawText(self.boundingRect(), Qt.AlignmentFlag.AlignCenter, "!")


class WorkloadValidator(QObject):
    """Keeps the workload problems of a document current and shows them on its scene."""

    #: the problems changed (a list of :class:`WorkloadProblem`)
    problemsChanged = Signal(list)

    def __init__(self, doc: TopologyDocument, scene: TopologyScene, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc, self.scene = doc, scene
        self.problems: list[WorkloadProblem] = []
        self.badges: dict[str, WarningBadge] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.check)
        for sig in (doc.deviceAdded, doc.deviceRemoved, doc.linkAdded, doc.linkRemoved):
            sig.connect(self.schedule)
        for sig in (doc.workloadsChanged, doc.topologyReset, doc.titleChanged, scene.built):
            sig.connect(self.schedule)
        scene.installEventFilter(self)  # the scene's own tooltips speak for devices, not badges
        self.check()

    def schedule(self, *_args: object) -> None:
        """Check again on the next event-loop turn (many changes, one check)."""
        self._timer.start()

    def check(self) -> list[WorkloadProblem]:
        """Check the workloads now, update the badges and tell listeners."""
        if not shiboken6.isValid(self.scene) or self.scene.building:
            return self.problems  # ``built`` schedules the check once every item exists
        base = self.doc.path.parent if self.doc.path else None
        self.problems = workload_problems(self.doc.topology, base)
        self._show_badges()
        self.problemsChanged.emit(self.problems)
        return self.problems

    def messages_for_device(self, device_id: str) -> list[str]:
        """The problems that flag ``device_id``, as ``workload: message`` lines."""
        return [f"{p.workload}: {p.message}" for p in self.problems if device_id in p.devices]

    def _show_badges(self) -> None:
        for badge in self.badges.values():
            if shiboken6.isValid(badge) and badge.scene() is not None:
                badge.scene().removeItem(badge)
        self.badges = {}
        flagged = dict.fromkeys(d for p in self.problems for d in p.devices)
        for dev_id in flagged:
            item = self.scene.devices.get(dev_id)
            if item is not None:
                text = "Workload problems:\n" + "\n".join(self.messages_for_device(dev_id))
                self.badges[dev_id] = WarningBadge(text, item)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.GraphicsSceneHelp and watched is self.scene:
            assert isinstance(event, QGraphicsSceneHelpEvent)
            for it in self.scene.items(event.scenePos()):
                if isinstance(it, WarningBadge):
                    QToolTip.showText(event.screenPos(), it.toolTip())
                    event.accept()
                    return True
        return False
