"""time_to_accuracy.md and .png from the study's analysis (bench.time_to_accuracy_report); no measuring here."""
from pathlib import Path

from bench.render import duration

COLORS = {"mlp": "tab:blue", "fasterkan": "tab:orange"}


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f} %"


def acc_text(s: dict | None) -> str:
    """"99.55 % (99.50–99.60)": median and range over seeds."""
    if not s:
        return "—"
    if s["min"] == s["max"]:
        return pct(s["median"])
    return f"{pct(s['median'])} ({100 * s['min']:.2f}–{100 * s['max']:.2f})"


def reached_text(s: dict | None, fmt) -> str:
    """Median (range) where "not reached" is shown as such, plus how many seeds reached it."""
    if not s:
        return "—"
    show = [("not reached" if s[k] is None else fmt(s[k])) for k in ("median", "min", "max")]
    rng = "" if show[1] == show[2] else f" ({show[1]} – {show[2]})"
    return f"{show[0]}{rng}, {s['reached']}/{s['n']} seeds reached"


def recipe_name(r: dict) -> str:
    return f"LR {r['lr']:g}, {r['epochs']} ep"


PICKED_HEAD = ("| model | picked recipe | seeds | val accuracy | test accuracy | epochs to 99.5 % test | "
               "time to 99.5 % test | time of the recipe |\n|---|---|---|---|---|---|---|---|")
GRID_HEAD = ("| model | peak LR | epochs | seeds | val accuracy | test accuracy | time (steps × s/step) | "
             "raw wall time (median) |\n|---|---|---|---|---|---|---|---|")
EQUAL_TIME = ("Each budget is one model's picked recipe; the other model gets its best-validation recipe that fits in "
              "it or, if none fits, its picked recipe's test accuracy mid-schedule.")
TIME_AXIS = ("Time = optimizer steps × median seconds per step measured side by side by `python -m bench.train_speed` "
             "({steps}; {hardware}, torch {torch}, batch {batch_size}; read from `{source}`); evaluation time is not "
             "counted. The runs' raw wall seconds are in `time_to_accuracy.json` (`raw_seconds` per epoch) but are not "
             "comparable: the runs shared a busy 2-core machine and may have been paused during benchmarks.")
SETUP = ("Both models ({models}) trained with the project's trainer on the same declared grid: peak LR ∈ {{{lrs}}} × "
         "epochs ∈ {{{epochs}}} × seeds {{{seeds}}}, batch {batch_size}, validation hold-out {val_holdout:,} (the last "
         "training images, never trained on); everything else is the trainer's default (AdamW, one-cycle schedule, "
         "weight decay 1e-4, light random affine). Test set: the canonical MNIST test images ({n_test:,}).")
STATUS = ("Runs: {finished} finished, {partial} partial, {missing} not started. Statistics (median, min–max over "
          "seeds) use the seeds on which every recipe of that model finished — {complete}.")


def picked_table(result: dict) -> list[str]:
    lines = [PICKED_HEAD]
    for model, p in result["picked"].items():
        if not p:
            lines.append(f"| {model} | no finished seed | | | | | | |")
            continue
        t = p["time_to_target"]
        lines.append(f"| {model} | {recipe_name(p)} | {len(p['seeds'])} | {acc_text(p['val'])} | "
                     f"{acc_text(p['test'])} | {reached_text(t['epochs'], str)} | "
                     f"{reached_text(t['time_s'], duration)} | {duration(p['time_s'])} |")
    return lines


def target_line(result: dict) -> str:
    """The issue's bar: ≥ 99.5 % test accuracy in ≤ 5 epochs, median over seeds, for the picked recipes."""
    verdicts = []
    for model, p in result["picked"].items():
        if not p:
            verdicts.append(f"{model}: no finished seed yet")
            continue
        met = p["epochs"] <= 5 and p["test"]["median"] >= result["target"]
        verdicts.append(f"{model} {'met' if met else 'not met'} ({acc_text(p['test'])}, {p['epochs']} epochs)")
    return "Issue 16's target (both models ≥ 99.5 % test accuracy in ≤ 5 epochs, median over seeds): " \
        + "; ".join(verdicts) + "."


def per_seed_lines(result: dict) -> list[str]:
    lines = []
    for model, p in result["picked"].items():
        if p:
            hits = [f"seed {h['seed']}: " + (f"epoch {h['epoch']} ({duration(h['time_s'])})" if h["epoch"]
                                             else "not reached") for h in p["time_to_target"]["per_seed"]]
            lines.append(f"- **{model}** ({recipe_name(p)}): " + "; ".join(hits))
    return lines


def equal_time_table(result: dict) -> list[str]:
    models = list(result["picked"])
    lines = ["| time budget | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for row in result["equal_time"]:
        owners = [m for m, p in result["picked"].items() if p and p["time_s"] == row["budget_s"]]
        cells = [" — ".join(filter(None, [row["models"][m]["test"] and acc_text(row["models"][m]["test"]),
                                          row["models"][m]["source"]])) for m in models]
        lines.append(f"| {duration(row['budget_s'])} (picked recipe of {', '.join(owners)}) | "
                     + " | ".join(cells) + " |")
    return lines


def grid_table(result: dict) -> list[str]:
    lines = [GRID_HEAD]
    for model, recipes in result["recipes"].items():
        for r in recipes:
            raw = r["raw_train_seconds"]
            lines.append(f"| {model} | {r['lr']:g} | {r['epochs']} | {len(r['seeds'])} | {acc_text(r['val'])} | "
                         f"{acc_text(r['test'])} | {duration(r['time_s']) if r['time_s'] else '—'} | "
                         f"{duration(raw['median']) if raw else '—'} |")
    return lines


RUNS_NOTE = ("Each finished run on its own, including those of seeds that are not complete yet (which the statistics "
             "above leave out, so that recipes are compared on the same seeds). Facts, not picks.")


def runs_table(result: dict) -> list[str]:
    lines = ["| model | peak LR | epochs | seed | val accuracy | test accuracy | first epoch ≥ 99.5 % test | time |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["runs"]:
        if r["status"] != "finished":
            continue
        last = r["per_epoch"][-1]
        first = next((e["epoch"] for e in r["per_epoch"] if e["test_accuracy"] >= result["target"]), None)
        lines.append(f"| {r['model']} | {r['lr']:g} | {r['epochs']} | {r['seed']} | {pct(last['val_accuracy'])} | "
                     f"{pct(last['test_accuracy'])} | {first or 'not reached'} | {duration(last['time_s'])} |")
    return lines


def intro(result: dict, notes: list[str]) -> list[str]:
    g = result["grid"]
    n_test = next((e["n_test"] for r in result["runs"] for e in r["per_epoch"]), 10_000)
    setup = SETUP.format(models=", ".join(g["models"]), lrs=", ".join(f"{v:g}" for v in g["lrs"]),
                         epochs=", ".join(map(str, g["epochs"])), seeds=", ".join(map(str, g["seeds"])),
                         batch_size=g["batch_size"], val_holdout=g["val_holdout"], n_test=n_test)
    complete = "; ".join(f"{m}: {', '.join(map(str, s)) or 'none'}" for m, s in result["complete_seeds"].items())
    return ["# Time to accuracy: both models, the same tuning budget (issue 16)", "", setup, *notes, "",
            STATUS.format(**result["status"], complete=complete)]


def reproduce(result: dict) -> list[str]:
    run = ("nice -n 19 python -m bench.time_to_accuracy run --data-dir data/mnist --out runs/study "
           f"{result['grid_flags']}")
    return ["## Reproduce", "", "```", run.rstrip(),
            "python -m bench.train_speed    # seconds per step of both models, side by side",
            "python -m bench.time_to_accuracy report --out runs/study", "```"]


def markdown(result: dict, notes: list[str]) -> str:
    ax = result["time_axis"]
    steps = ", ".join(f"{m} {s:.3f} s/step" for m, s in ax["median_step_s"].items())
    lines = [*intro(result, notes), "", "## The rule (declared before the runs)", "", result["rule"], "",
             "## Picked recipes", "", *picked_table(result), "", target_line(result), "",
             "Time to 99.5 % test accuracy per seed (first epoch of the picked recipe's run at or above it):", "",
             *per_seed_lines(result), "", "## Accuracy at equal time", "", EQUAL_TIME, "", *equal_time_table(result),
             "", "![test accuracy vs time](time_to_accuracy.png)", "", "## Full grid", "", *grid_table(result), "",
             "## Every finished run", "", RUNS_NOTE, "", *runs_table(result), "",
             "## Time axis and hardware", "", TIME_AXIS.format(steps=steps,
                                                               **{k: ax[k] for k in ax if k != "median_step_s"}),
             "", "Where the runs ran: " + "; ".join(result["where"]) + ".", "", *reproduce(result)]
    return "\n".join(lines) + "\n"


def _is_picked(run: dict, picked: dict | None) -> bool:
    return bool(picked) and (run["lr"], run["epochs"]) == (picked["lr"], picked["epochs"]) \
        and run["seed"] in picked["seeds"]


def plot(result: dict, path: Path) -> None:
    """Test accuracy vs time, every run of both models; the picked recipe's runs bold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    accs, finals = [], []
    for run in (r for r in result["runs"] if r["per_epoch"]):
        model, chosen = run["model"], _is_picked(run, result["picked"][run["model"]])
        t, a = [e["time_s"] for e in run["per_epoch"]], [e["test_accuracy"] for e in run["per_epoch"]]
        accs += a
        finals += [a[-1]] if chosen else []
        label = (f"{model}: {recipe_name(result['picked'][model])} (picked), every seed" if chosen
                 else f"{model}: other recipes")
        ax.plot(t, a, color=COLORS.get(model), alpha=1 if chosen else 0.25, lw=2 if chosen else 0.8,
                marker="o" if chosen else ".", label=label)
    ax.axhline(result["target"], ls="--", color="gray", lw=0.8, label=f"{100 * result['target']:.1f} %")
    if accs:  # zoom on the finish; early one-cycle epochs far below it would flatten every curve
        bottom = max(min(accs) - 0.005, min(finals or accs) - 0.03)
        ax.set_ylim(bottom, min(1.0, max(accs) + 0.003))
        if min(accs) < bottom:
            ax.text(0.01, 0.01, "points below the axis (early epochs) are cut off", transform=ax.transAxes, fontsize=8)
    ax.set_xlim(left=0)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), loc="lower right", fontsize=8)
    ax.set_xlabel("time (s) = optimizer steps × s/step measured side by side (bench.train_speed)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Time to accuracy: every seed and recipe, picked recipe bold")
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
