"""How hard are the simulated tasks? Benign context versus anomaly, measured on rendered radar maps.

For every task we render *pairs* of sequences that are identical (same person, same motion, same room,
same noise draws) except for one factor, and measure how much the radar maps change:

* **benign context** (must not be flagged): clothing, the room's clutter (ladder, whiteboard),
  the wall material or added reflectors, multipath on/off, another walk of the same person
  (motion), another person, the radar position;
* **anomaly / task signal** (must be found): a concealed object (weapons), a person behind the wall
  (wall), a fall instead of standing (fall), another identity (gait), another movement (rehab);
* **noise floor**: the same scene with another thermal-noise draw.

Metrics, per frame, averaged over frames and cases (maps are linear power as stored):

* ``RA rel-L2`` = ||A - B|| / max(||A||, ||B||) on the range-azimuth map (no clutter removal: what
  mmAnomaly's spectra show; what a linear-power reconstruction error sees); 0 = identical, 1 = as large
  as the maps themselves, at most sqrt(2);
* ``RA dB-MAD`` = mean |10 log10 A - 10 log10 B| (dB) over the cells within 30 dB of the frame's peak
  in either map (what a model on normalised dB images sees);
* ``RD rel-L2`` on the clutter-removed range-Doppler map (the moving part of the scene).

The scenes are the task generators' own (:mod:`mmsight.sim.scenes`, :mod:`mmsight.sim.tasks`); nothing
is tuned here. The table goes into ``docs/simulator.md``.

    python benchmarks/sim_difficulty.py                 # all tasks, 3 cases, 6 frames
    python benchmarks/sim_difficulty.py --tasks weapons --cases 6 --markdown
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from mmsight.sim.tasks import get_task
from mmsight.sim.tasks.common import PersonTrack, make_subject, render_sequence

FLOOR_DB = 30.0


def _db(x: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(x, 1e-30))


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / max(||a||, ||b||): 0 = equal, <= sqrt(2) for non-negative maps, symmetric."""
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-30))


def map_distances(a: Any, b: Any) -> dict[str, float]:
    """Per-frame distances between two renders (:class:`~mmsight.sim.tasks.common.Rendered`), averaged."""
    out = {"ra_rel": [], "ra_dbmad": [], "rd_rel": []}  # type: dict[str, list[float]]
    for f in range(a.ra.shape[0]):
        A, B = a.ra[f].astype(np.float64), b.ra[f].astype(np.float64)
        out["ra_rel"].append(_rel(A, B))
        dA, dB = _db(A), _db(B)
        m = np.maximum(dA, dB) > dA.max() - FLOOR_DB
        out["ra_dbmad"].append(float(np.mean(np.abs(dA - dB)[m])))
        RA, RB = a.rd[f].astype(np.float64), b.rd[f].astype(np.float64)
        out["rd_rel"].append(_rel(RA, RB))
    return {k: float(np.mean(v)) for k, v in out.items()}


def _render(cfg: Any, scene: Any, people: list[PersonTrack], seed: int, frames: slice | None = None, **kw: Any) -> Any:
    c = replace(cfg, camera=False, **kw)
    r = render_sequence(c, scene, people, np.random.default_rng(seed), radar=True, camera=False)
    if frames is not None:
        r.ra, r.rd = r.ra[frames], r.rd[frames]
    return r


Pair = tuple[str, str, Callable[[], tuple[Any, Any]]]


# ---------------------------------------------------------------------------------------------- weapons


def weapons_pairs(case: int, frames: int) -> list[Pair]:
    from mmsight.sim.motion import route_at_view_angle, walk
    from mmsight.sim.scattering import CarriedObject, Clothing
    from mmsight.sim.scenes import weapons_scene
    from mmsight.sim.tasks.weapons import CLOTHING_OUTFITS

    cfg = replace(get_task("weapons").default_config(), n_frames=frames)
    g = np.random.default_rng(1000 + case)
    sub = make_subject(0, case % 7)
    other = make_subject(0, (case + 3) % 7)
    env = ("plain", "ladder", "ladder_whiteboard")[case % 3]
    scene_seed = int(g.integers(2**31))

    def scene(e: str = env) -> Any:
        return weapons_scene(e, np.random.default_rng(scene_seed))

    dur = (frames - 1) / cfg.fps + 0.2
    angle = math.radians(float(g.uniform(0, 45)))
    center = (float(g.uniform(-0.5, 0.5)), float(g.uniform(2.6, 3.6)))

    def clip(s: Any, seed: int) -> Any:
        rr = np.random.default_rng(seed)
        p = s.gait.realize(rr)
        route = route_at_view_angle(angle, center=center, length=p.speed * dur, towards_radar=True)
        return walk(s.body, p, route, duration=dur, fps=30.0, rng=rr)

    c0 = clip(sub, 1)
    c_other_walk = clip(sub, 2)
    c_other_person = clip(other, 1)
    cloth = {k: Clothing.outfit(*v) for k, v in CLOTHING_OUTFITS.items()}
    base_cloth = ("cloth-1", "cloth-2", "cloth-3")[case % 3]
    alt_cloth = ("cloth-3", "cloth-1", "cloth-1")[case % 3]
    alt_env = {"plain": "ladder_whiteboard", "ladder": "plain", "ladder_whiteboard": "plain"}[env]
    objects = [CarriedObject(o, r) for o in ("handgun", "knife", "keys") for r in
               ("chest_left", "waist_right", "pocket_left", "ankle_right")]
    obj = objects[case % len(objects)]
    s = int(g.integers(2**31))

    def person(c: Any = c0, cl: str = base_cloth, objs: tuple = (), who: Any = sub) -> list[PersonTrack]:
        return [PersonTrack(c, cloth[cl], objs, who.skin)]

    return [
        ("noise floor", "noise", lambda: (_render(cfg, scene(), person(), s), _render(cfg, scene(), person(), s + 1))),
        (f"concealed {obj.obj} at {obj.region}", "anomaly",
         lambda: (_render(cfg, scene(), person(), s), _render(cfg, scene(), person(objs=(obj,)), s))),
        (f"clothing {base_cloth} -> {alt_cloth}", "benign",
         lambda: (_render(cfg, scene(), person(), s), _render(cfg, scene(), person(cl=alt_cloth), s))),
        (f"environment {env} -> {alt_env}", "benign",
         lambda: (_render(cfg, scene(), person(), s), _render(cfg, scene(alt_env), person(), s))),
        ("multipath off -> on", "benign",
         lambda: (_render(cfg, scene(), person(), s, multipath=False), _render(cfg, scene(), person(), s))),
        ("another walk, same person", "benign",
         lambda: (_render(cfg, scene(), person(), s), _render(cfg, scene(), person(c=c_other_walk), s))),
        ("another person", "benign",
         lambda: (_render(cfg, scene(), person(), s), _render(cfg, scene(), person(c=c_other_person, who=other), s))),
    ]


# ---------------------------------------------------------------------------------------------- wall / fall


def wall_pairs(case: int, frames: int) -> list[Pair]:
    from mmsight.sim.motion import sit, stand
    from mmsight.sim.scattering import Clothing
    from mmsight.sim.scenes import WALL_CONFIGS, wall_scene
    from mmsight.sim.tasks.wall import add_chair, person_position

    cfg = replace(get_task("wall").default_config(), n_frames=frames)
    g = np.random.default_rng(2000 + case)
    walls = list(WALL_CONFIGS)
    w = walls[case % 4]  # a plain material
    w_refl = {"wall-1": "wall-5", "wall-2": "wall-7", "wall-3": "wall-6", "wall-4": "wall-5"}[w]
    w_other = walls[(case + 1) % 4]
    scene_seed = int(g.integers(2**31))

    def scene(name: str = w) -> Any:
        return wall_scene(name, np.random.default_rng(scene_seed))

    sub = make_subject(0, case % 5)
    pos = 1 + case % 6
    xy = person_position(np.random.default_rng(case), pos, scene().wall.distance)  # type: ignore[union-attr]
    dur = (frames - 1) / cfg.fps + 0.2
    st = stand(sub.body, dur, fps=10.0, position=xy, heading=math.pi, rng=np.random.default_rng(case))
    si = sit(sub.body, dur, fps=10.0, position=xy, heading=math.pi, rng=np.random.default_rng(case))
    xy2 = person_position(np.random.default_rng(case + 7), 1 + (pos + 2) % 6, scene().wall.distance)  # type: ignore[union-attr]
    st2 = stand(sub.body, dur, fps=10.0, position=xy2, heading=math.pi, rng=np.random.default_rng(case))
    cl = Clothing.outfit()
    s = int(g.integers(2**31))

    def p(c: Any) -> list[PersonTrack]:
        return [PersonTrack(c, cl, (), sub.skin)]

    sit_scene = add_chair(scene(), si.meta["chair"]["seat_center"], math.pi)
    return [
        ("noise floor (blank)", "noise", lambda: (_render(cfg, scene(), [], s), _render(cfg, scene(), [], s + 1))),
        ("noise floor (person standing)", "noise",
         lambda: (_render(cfg, scene(), p(st), s), _render(cfg, scene(), p(st), s + 1))),
        (f"person standing at position {pos} ({w})", "anomaly",
         lambda: (_render(cfg, scene(), [], s), _render(cfg, scene(), p(st), s))),
        (f"person sitting at position {pos} ({w})", "anomaly",
         lambda: (_render(cfg, scene(), [], s), _render(cfg, sit_scene, p(si), s))),
        (f"wall {w} -> {w_other} (blank)", "benign",
         lambda: (_render(cfg, scene(), [], s), _render(cfg, scene(w_other), [], s))),
        (f"reflectors added {w} -> {w_refl} (blank)", "benign",
         lambda: (_render(cfg, scene(), [], s), _render(cfg, scene(w_refl), [], s))),
        ("multipath off -> on (person standing)", "benign",
         lambda: (_render(cfg, scene(), p(st), s, multipath=False), _render(cfg, scene(), p(st), s))),
        ("localisation: position A -> B (standing)", "signal",
         lambda: (_render(cfg, scene(), p(st), s), _render(cfg, scene(), p(st2), s))),
    ]


def fall_pairs(case: int, frames: int) -> list[Pair]:
    from mmsight.sim.motion import fall, stand, stand_to_sit
    from mmsight.sim.scattering import Clothing
    from mmsight.sim.scenes import WALL_CONFIGS, wall_scene
    from mmsight.sim.tasks.wall import add_chair

    cfg = replace(get_task("fall").default_config(), n_frames=frames)
    g = np.random.default_rng(3000 + case)
    walls = list(WALL_CONFIGS)
    w = walls[case % 7]
    w_other = walls[(case + 1) % 4]
    scene_seed = int(g.integers(2**31))

    def scene(name: str = w) -> Any:
        return wall_scene(name, np.random.default_rng(scene_seed))

    sub = make_subject(0, case % 7)
    d = scene().wall.distance  # type: ignore[union-attr]
    xy = (float(g.uniform(-0.8, 0.8)), d + float(g.uniform(1.3, 2.5)))
    pre = 1.0
    dur = (frames - 1) / cfg.fps + 0.2
    end = "lying" if case % 2 == 0 else "sitting"
    fl = fall(sub.body, end=end, duration=0.9, pre=pre, post=max(dur - pre - 0.9, 1.0), fps=20.0, position=xy,
              heading=math.pi, rng=np.random.default_rng(case))
    st = stand(sub.body, fl.duration, fps=20.0, position=xy, heading=math.pi, rng=np.random.default_rng(case))
    ss = stand_to_sit(sub.body, pre=pre, post=max(dur - pre - 2.3, 0.5), duration=2.2, fps=20.0, position=xy,
                      heading=math.pi, rng=np.random.default_rng(case))
    sit_scene = add_chair(scene(), ss.meta["chair"]["seat_center"], math.pi)
    after = slice(int(math.ceil((pre + 0.9) * cfg.fps)) + 0, None)  # frames after the impact
    cl = Clothing.outfit()
    s = int(g.integers(2**31))

    def p(c: Any) -> list[PersonTrack]:
        return [PersonTrack(c, cl, (), sub.skin)]

    return [
        ("noise floor (standing)", "noise",
         lambda: (_render(cfg, scene(), p(st), s, frames=after), _render(cfg, scene(), p(st), s + 1, frames=after))),
        (f"fall to {end} instead of standing", "anomaly",
         lambda: (_render(cfg, scene(), p(st), s, frames=after), _render(cfg, scene(), p(fl), s, frames=after))),
        ("sitting down instead of standing", "benign",
         lambda: (_render(cfg, scene(), p(st), s, frames=after), _render(cfg, sit_scene, p(ss), s, frames=after))),
        (f"wall {w} -> {w_other} (standing)", "benign",
         lambda: (_render(cfg, scene(), p(st), s, frames=after), _render(cfg, scene(w_other), p(st), s, frames=after))),
        ("multipath off -> on (standing)", "benign",
         lambda: (_render(cfg, scene(), p(st), s, frames=after, multipath=False),
                  _render(cfg, scene(), p(st), s, frames=after))),
    ]


# ---------------------------------------------------------------------------------------------- gait


def gait_pairs(case: int, frames: int) -> list[Pair]:
    from mmsight.sim.motion import route_at_view_angle, walk
    from mmsight.sim.scattering import Clothing
    from mmsight.sim.scenes import GAIT_SCENES, gait_scene

    cfg = replace(get_task("gait").default_config(), n_frames=frames)
    g = np.random.default_rng(4000 + case)
    name = GAIT_SCENES[case % 3]
    other_scene = GAIT_SCENES[(case + 1) % 3]
    seed = int(g.integers(2**31))

    def scene(n: str = name) -> Any:
        return gait_scene(n, np.random.default_rng(seed))

    a, b = make_subject(0, case), make_subject(0, case + 10)
    dur = (frames - 1) / cfg.fps + 0.2
    max_angle = min(float(scene().labels["max_view_angle"]), float(scene(other_scene).labels["max_view_angle"]))
    ang = float(g.uniform(0, max_angle))

    def clip(s: Any, seed_: int, angle: float = ang) -> Any:
        rr = np.random.default_rng(seed_)
        p = s.gait.realize(rr)
        return walk(s.body, p, route_at_view_angle(angle, center=(0.0, 5.0), length=p.speed * dur), duration=dur,
                    fps=30.0, rng=rr)

    cl = Clothing.outfit()
    s = int(g.integers(2**31))
    ca, ca2, cb = clip(a, 1), clip(a, 2), clip(b, 1)
    ca_view = clip(a, 1, min(ang + math.radians(30), max_angle))

    def p(c: Any, who: Any) -> list[PersonTrack]:
        return [PersonTrack(c, cl, (), who.skin)]

    return [
        ("noise floor", "noise", lambda: (_render(cfg, scene(), p(ca, a), s), _render(cfg, scene(), p(ca, a), s + 1))),
        ("another identity (same route)", "signal",
         lambda: (_render(cfg, scene(), p(ca, a), s), _render(cfg, scene(), p(cb, b), s))),
        ("another walk, same identity", "benign",
         lambda: (_render(cfg, scene(), p(ca, a), s), _render(cfg, scene(), p(ca2, a), s))),
        (f"scene {name} -> {other_scene}", "benign",
         lambda: (_render(cfg, scene(), p(ca, a), s), _render(cfg, scene(other_scene), p(ca, a), s))),
        ("view angle +30 deg (or to the scene's limit)", "benign",
         lambda: (_render(cfg, scene(), p(ca, a), s), _render(cfg, scene(), p(ca_view, a), s))),
        ("multipath off -> on", "benign",
         lambda: (_render(cfg, scene(), p(ca, a), s, multipath=False), _render(cfg, scene(), p(ca, a), s))),
    ]


# ---------------------------------------------------------------------------------------------- rehab


def rehab_pairs(case: int, frames: int) -> list[Pair]:
    from mmsight.sim.motion import rehab_movement
    from mmsight.sim.scattering import Clothing
    from mmsight.sim.scenes import REHAB_ENVIRONMENTS, rehab_scene

    cfg = replace(get_task("rehab").default_config(), n_frames=frames, fps=10.0)
    g = np.random.default_rng(5000 + case)
    env = REHAB_ENVIRONMENTS[case % 4]
    env2 = REHAB_ENVIRONMENTS[(case + 1) % 4]
    seed = int(g.integers(2**31))

    def scene(e: str = env, pos: str = "front") -> Any:
        return rehab_scene(e, pos, np.random.default_rng(seed))

    a, b = make_subject(0, case), make_subject(0, case + 5)
    m1, m2 = 1 + case % 10, 1 + (case + 3) % 10
    xy = tuple(scene().labels["subject_xy"])

    def clip(s: Any, m: int, position: tuple = xy, heading: float = math.pi) -> Any:
        style = replace(s.rehab_style, tempo=3.0, hold=0.5, rest=0.5, variability=0.0)
        return rehab_movement(s.body, m, style, repetitions=2, fps=30.0, position=position, heading=heading,  # type: ignore[arg-type]
                              rng=np.random.default_rng(case), lead_in=0.2)

    el = scene(env, "elevated")
    cl = Clothing.outfit()
    s = int(g.integers(2**31))
    # frames during the first repetition
    times = 0.6 + np.arange(frames) * 0.25
    ca, ca2, cb = clip(a, m1), clip(a, m2), clip(b, m1)
    ce = clip(a, m1, tuple(el.labels["subject_xy"]), float(el.labels["subject_heading"]))

    def r(sc: Any, c: Any, who: Any, seed_: int = s, **kw: Any) -> Any:
        cc = replace(cfg, camera=False, **kw)
        return render_sequence(cc, sc, [PersonTrack(c, cl, (), who.skin)], np.random.default_rng(seed_), times=times,
                               radar=True, camera=False)

    return [
        ("noise floor", "noise", lambda: (r(scene(), ca, a), r(scene(), ca, a, s + 1))),
        (f"movement {m1} -> {m2}", "signal", lambda: (r(scene(), ca, a), r(scene(), ca2, a))),
        ("another subject, same movement", "benign", lambda: (r(scene(), ca, a), r(scene(), cb, b))),
        (f"environment {env} -> {env2}", "benign", lambda: (r(scene(), ca, a), r(scene(env2), ca, a))),
        ("radar front -> elevated", "benign", lambda: (r(scene(), ca, a), r(el, ce, a))),
        ("multipath off -> on", "benign", lambda: (r(scene(), ca, a, multipath=False), r(scene(), ca, a))),
    ]


PAIRS = {"weapons": weapons_pairs, "wall": wall_pairs, "fall": fall_pairs, "gait": gait_pairs, "rehab": rehab_pairs}
FRAMES = {"weapons": 6, "wall": 4, "fall": 8, "gait": 6, "rehab": 6}


def run(tasks: list[str], cases: int, frames_scale: float = 1.0) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for task in tasks:
        acc: dict[tuple[str, str], list[dict[str, float]]] = {}
        order: list[tuple[str, str]] = []
        frames = max(2, int(round(FRAMES[task] * frames_scale)))
        for case in range(cases):
            for label, kind, fn in PAIRS[task](case, frames):
                key = (_generic(label), kind)
                if key not in acc:
                    acc[key] = []
                    order.append(key)
                a, b = fn()
                acc[key].append(map_distances(a, b))
        for key in order:
            v = acc[key]
            rows.append({"task": task, "factor": key[0], "kind": key[1], "n": len(v),
                         **{k: float(np.median([x[k] for x in v])) for k in ("ra_rel", "ra_dbmad", "rd_rel")}})
    return rows


def _generic(label: str) -> str:
    """Strip the case-specific details (which object, which wall) so that cases pool into one row."""
    for prefix in ("concealed ", "clothing ", "environment ", "wall ", "reflectors added", "person standing",
                   "person sitting", "movement ", "scene ", "fall to "):
        if label.startswith(prefix):
            return {"concealed ": "concealed object (3 objects x 4 regions, cycled)", "clothing ": "clothing change",
                    "environment ": "environment change (clutter)", "wall ": "wall material change",
                    "reflectors added": "reflectors added in front of the wall", "person standing": "person standing behind the wall",
                    "person sitting": "person sitting behind the wall", "movement ": "another movement",
                    "scene ": "another scene", "fall to ": "fall (to lying / sitting) instead of standing"}[prefix]
    return label


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| task | factor | kind | cases | RA rel-L2 | RA dB-MAD (dB) | RD rel-L2 | RA rel-L2 / anomaly |",
             "|---|---|---|---|---|---|---|---|"]
    for task in dict.fromkeys(r["task"] for r in rows):
        tr = [r for r in rows if r["task"] == task]
        ref = [r["ra_rel"] for r in tr if r["kind"] in ("anomaly", "signal")]
        ref_v = float(np.median(ref)) if ref else float("nan")
        for r in tr:
            lines.append(f"| {task} | {r['factor']} | {r['kind']} | {r['n']} | {r['ra_rel']:.3f} | {r['ra_dbmad']:.2f} | "
                         f"{r['rd_rel']:.3f} | {r['ra_rel'] / ref_v:.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", nargs="*", default=list(PAIRS), choices=list(PAIRS))
    ap.add_argument("--cases", type=int, default=3, help="cases (people, scenes, objects) per task")
    ap.add_argument("--frames-scale", type=float, default=1.0, help="scale the frames per render")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table (for docs/simulator.md)")
    args = ap.parse_args()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass
    t0 = time.perf_counter()
    rows = run(args.tasks, args.cases, args.frames_scale)
    if args.markdown:
        print(markdown(rows))
    else:
        for r in rows:
            print(f"{r['task']:8s} {r['kind']:8s} {r['factor'][:55]:55s} n={r['n']:2d} RA rel-L2 {r['ra_rel']:.3f} "
                  f"RA dB-MAD {r['ra_dbmad']:5.2f} dB  RD rel-L2 {r['rd_rel']:.3f}")
    print(f"\n{len(rows)} rows in {time.perf_counter() - t0:.0f} s ({args.cases} cases per task)")


if __name__ == "__main__":
    main()
