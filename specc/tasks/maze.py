"""`maze`: a small maze for the SNARC's rat (Minsky & Edmonds 1951 ran a simulated rat
through a copy of Shannon's maze; its layout is not recorded, so this one is ours).

The rat sees which cell it is in (one-hot, 16 cells of a 4x4 maze) and the network's output
votes for a move (north, east, south, west): a move is drawn in proportion to the votes (the
SNARC spec lets one unit win, so its move is taken), no votes a random move; a move into a
wall stays put. Reaching the goal ends the episode with reward 1; every other step is
rewarded -STEP_COST (a cost of time: with reward at the goal only our reconstruction does not
learn, see specs/snarc.net); after MAX_STEPS the episode ends. Training runs batches of
episodes, applying the rules at every time step. The metric, `steps_to_goal`: the mean length
of 64 evaluation episodes (MAX_STEPS when the goal is not reached), beside the untrained
network's (measured first) and a random walk's.
"""
from __future__ import annotations

import torch

from ..core.diagnostics import SpeccError
from ..data.registry import register
from .task import Task, TaskData

# cells at odd (row, col); '#' between two cells is a wall. S start, G goal.
LAYOUT = ["#########",
          "#S....#.#",
          "###.#.#.#",
          "#...#...#",
          "#.#####.#",
          "#.#...#.#",
          "#.#.#.#.#",
          "#...#..G#",
          "#########"]
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # north, east, south, west
MAX_STEPS = 100
STEP_COST = 0.02  # every step that does not reach the goal is rewarded -0.02
EPISODES = 256  # per epoch
EVAL_EPISODES = 64


class Maze:
    def __init__(self, layout=None):
        layout = layout or LAYOUT
        self.rows, self.cols = (len(layout) - 1) // 2, (len(layout[0]) - 1) // 2
        self.cells = self.rows * self.cols
        where = {ch: divmod(i, len(layout[0])) for i, ch in enumerate("".join(layout))
                 if ch in "SG"}
        self.start = self._cell(*where["S"])
        self.goal = self._cell(*where["G"])
        table = []
        for cell in range(self.cells):
            r, c = 2 * (cell // self.cols) + 1, 2 * (cell % self.cols) + 1
            table.append([cell if layout[r + dr][c + dc] == "#" else
                          self._cell(r + 2 * dr, c + 2 * dc) for dr, dc in MOVES])
        self.next = torch.tensor(table)  # [cells, moves] -> cell

    def _cell(self, r: int, c: int) -> int:
        return (r // 2) * self.cols + c // 2

    def shortest(self) -> int:
        seen, frontier, steps = {self.start}, [self.start], 0
        while self.goal not in seen:
            frontier = [int(n) for f in frontier for n in self.next[f] if int(n) not in seen]
            seen.update(frontier)
            steps += 1
        return steps


def choose(votes: torch.Tensor) -> torch.Tensor:
    """The move of one firing unit picked at random (each move with probability
    proportional to its votes); with no votes, any move."""
    weights = votes.clamp(min=0) + (votes.clamp(min=0).sum(1, keepdim=True) == 0).float()
    return torch.multinomial(weights, 1).squeeze(1)


def run_episodes(run, maze: Maze, n: int, learn: bool) -> torch.Tensor:
    """Run n episodes from the start; with `learn`, apply the rules at every step. Returns
    the number of steps each took (MAX_STEPS if it never reached the goal)."""
    device = run.trainer.device
    pos = torch.full((n,), maze.start, device=device)
    nxt = maze.next.to(device)
    steps = torch.full((n,), MAX_STEPS, device=device)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    run.learner.new_episode()
    for t in range(MAX_STEPS):
        obs = torch.nn.functional.one_hot(pos, maze.cells).float()
        named, seen = run.learner.forward(obs)
        move = choose(named[run.learner.names[0]])
        pos = torch.where(done, pos, nxt[pos, move])
        arrived = (pos == maze.goal) & ~done
        steps = torch.where(arrived, torch.full_like(steps, t + 1), steps)
        if learn:
            reward = arrived.float() - STEP_COST * (~done & ~arrived).float()
            run.learner.apply_local(seen, reward=reward)
        done |= arrived
        if bool(done.all()):
            break
    return steps.float()


def random_walk(maze: Maze, n: int) -> float:
    """Mean steps to the goal of n uniformly random walks (capped at MAX_STEPS), seeded."""
    gen = torch.Generator().manual_seed(1951)
    pos = torch.full((n,), maze.start)
    steps = torch.full((n,), MAX_STEPS)
    for t in range(MAX_STEPS):
        pos = maze.next[pos, torch.randint(len(MOVES), (n,), generator=gen)]
        steps = torch.where((pos == maze.goal) & (steps == MAX_STEPS), t + 1, steps)
        pos = torch.where(steps < MAX_STEPS, torch.full_like(pos, maze.goal), pos)
    return float(steps.float().mean())


def load(arg: str, want) -> TaskData:
    maze = Maze()
    if tuple(want.shape) != (maze.cells,) or want.classes != len(MOVES):
        raise SpeccError(f"data set 'maze' shows the rat's cell one-hot [N, {maze.cells}] and "
                         f"wants a vote for each of {len(MOVES)} moves; the network has input "
                         f"{['N', *want.shape]} and {want.classes} outputs")
    start = torch.nn.functional.one_hot(torch.full((EPISODES,), maze.start), maze.cells).float()
    labels = torch.zeros(EPISODES, dtype=torch.long)

    def episodes(run, x):
        steps = run_episodes(run, maze, len(x), learn=True)
        return float(steps.mean()), int((steps < MAX_STEPS).sum())

    def evaluate(run):
        state = torch.get_rng_state()
        torch.manual_seed(1951)
        steps = run_episodes(run, maze, EVAL_EPISODES, learn=False)
        torch.set_rng_state(state)
        mean = float(steps.mean())
        return {"score": float((steps < MAX_STEPS).float().mean()), "loss": mean,
                "steps_to_goal": mean, "shortest_path": maze.shortest(),
                "random_walk_steps": random_walk(maze, EVAL_EPISODES)}

    task = Task("steps_to_goal", evaluate, episodes=episodes, before=True)
    return TaskData("maze", start, labels, start[:EVAL_EPISODES], labels[:EVAL_EPISODES], 0,
                    [], None, task)


register("maze", load)
