"""A workflow table drawn as SVG on the server (no JavaScript, no CDN): states in columns by
their distance from the initial state, one arrow per (source, transition, target)."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

from service.workflow.engine import Workflow

BOX_W, BOX_H, COL_GAP, ROW_GAP, PAD = 150, 34, 90, 26, 20


@dataclass(frozen=True)
class Box:
    x: int
    y: int


def layout(workflow: Workflow) -> dict[str, Box]:
    depth = {workflow.initial: 0}
    queue = deque([workflow.initial])
    while queue:
        state = queue.popleft()
        for transition in workflow.transitions:
            if state in transition.sources and transition.target not in depth:
                depth[transition.target] = depth[state] + 1
                queue.append(transition.target)
    for state in workflow.states:
        depth.setdefault(state, max(depth.values()) + 1)
    columns: dict[int, list[str]] = defaultdict(list)
    for state in workflow.states:
        columns[depth[state]].append(state)
    return {
        state: Box(PAD + col * (BOX_W + COL_GAP), PAD + row * (BOX_H + ROW_GAP) + 40)
        for col, states in columns.items()
        for row, state in enumerate(states)
    }


@dataclass(frozen=True)
class Edge:
    path: str
    label: str
    label_x: int
    label_y: int


@dataclass(frozen=True)
class Node:
    state: str
    x: int
    y: int
    initial: bool


@dataclass(frozen=True)
class Drawing:
    """What the template draws (templates/docs/workflow_diagram.svg); all text is escaped by
    Jinja, nothing is marked safe."""

    width: int
    height: int
    nodes: list[Node]
    edges: list[Edge]
    box_w: int = BOX_W
    box_h: int = BOX_H


def drawing(workflow: Workflow) -> Drawing:
    """The diagram; arrows back to an earlier column curve below the boxes."""
    boxes = layout(workflow)
    edges = []
    for index, transition in enumerate(workflow.transitions):
        for source in transition.sources:
            a, b = boxes[source], boxes[transition.target]
            if source == transition.target:
                x, y = a.x + BOX_W // 2, a.y
                path = f"M{x - 20},{y} C{x - 30},{y - 40} {x + 30},{y - 40} {x + 20},{y}"
                label_x, label_y = x, y - 34
            elif b.x == a.x:
                # Same column: bulge out to the right between the two boxes.
                x1, y1, y2 = a.x + BOX_W, a.y + BOX_H // 2, b.y + BOX_H // 2
                path = f"M{x1},{y1} C{x1 + 45},{y1} {x1 + 45},{y2} {x1},{y2}"
                label_x, label_y = x1 + 40, (y1 + y2) // 2 + 4
            elif b.x > a.x:
                x1, y1, x2, y2 = a.x + BOX_W, a.y + BOX_H // 2, b.x, b.y + BOX_H // 2
                path = f"M{x1},{y1} C{x1 + 40},{y1} {x2 - 40},{y2} {x2},{y2}"
                # Label near the target, so arrows fanning out of one box keep apart.
                label_x, label_y = x2 - 34, y2 - 5
            else:
                x1, y1 = a.x + BOX_W // 2, a.y + BOX_H
                x2, y2 = b.x + BOX_W // 2, b.y + BOX_H
                dip = max(y1, y2) + 30 + (index % 3) * 12
                path = f"M{x1},{y1} C{x1},{dip} {x2},{dip} {x2},{y2}"
                label_x, label_y = (x1 + x2) // 2, dip - 2
            edges.append(Edge(path, transition.name, label_x, label_y))
    nodes = [Node(state, box.x, box.y, state == workflow.initial) for state, box in boxes.items()]
    width = max(b.x for b in boxes.values()) + BOX_W + PAD
    height = max(b.y for b in boxes.values()) + BOX_H + PAD + 60
    return Drawing(width, height, nodes, edges)
