using System.Globalization;
using System.Text.Json.Nodes;

using Lrml.Experiments;

namespace Lrml.Reproduction.Sweeps;

/// <summary>
/// Collects finished sweeps (their chosen.json) into one comparison table — the rows a main-results table or notebook shows:
/// one row per (dataset, protocol, sweep) with mean ± std over the final seeds of the sampled and full-ranking metrics, the
/// chosen configuration and the budget.
/// </summary>
public static class SweepTable
{
    /// <summary>Metrics shown by default: sampled HR@10 / nDCG@10 and full-ranking Recall@10 / nDCG@10.</summary>
    public static readonly string[] DefaultMetrics = ["HR@10", "nDCG@10", "full/Recall@10", "full/nDCG@10"];

    /// <summary>Every chosen.json under <paramref name="sweepsRoot"/> (recursively), ordered by dataset, protocol and then
    /// the first metric (descending).</summary>
    public static ResultTable Collect(string sweepsRoot, IReadOnlyList<string>? metrics = null)
    {
        metrics ??= DefaultMetrics;
        var t = new ResultTable("Tuned baselines: mean ± std over final seeds (chosen on validation " + "nDCG@10" + ")", "dataset", "protocol", "sweep", "model", "seeds");
        foreach (var m in metrics) { t.AddColumn(m, "F4"); t.AddColumn(m + " std", "F4"); }
        t.AddColumn("chosen").AddColumn("trainer").AddColumn("s/epoch", "F2").AddColumn("trials").AddColumn("commit");
        if (!Directory.Exists(sweepsRoot)) return t;
        var rows = new List<(string Dataset, string Protocol, double Key, (string, object?)[] Cells)>();
        foreach (var path in Directory.EnumerateFiles(sweepsRoot, "chosen.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var o = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            string sweep = Path.GetFileName(Path.GetDirectoryName(path)!);
            string protocol = Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(path))!);
            string dataset = (string?)o["dataset"] ?? "";
            var cells = new List<(string, object?)>
            {
                ("dataset", dataset), ("protocol", protocol), ("sweep", sweep), ("model", (string?)o["display"]), ("seeds", (int?)o["n"]),
            };
            foreach (var m in metrics)
            {
                cells.Add((m, o["mean"]?[m] is JsonNode v ? (double)v : null));
                cells.Add((m + " std", o["std"]?[m] is JsonNode s ? (double)s : null));
            }
            var pairs = o["settings"]!.AsObject().Select(kv => new KeyValuePair<string, string>(kv.Key, (string?)kv.Value ?? ""))
                .Where(kv => kv.Key != "pretrain").ToList();
            var (modelSettings, trainerSettings) = Sweep.Route(pairs);
            cells.Add(("chosen", string.Join(" ", modelSettings.Select(kv => $"{kv.Key}={kv.Value}"))));
            cells.Add(("trainer", string.Join(" ", trainerSettings.Select(kv => $"{kv.Key}={kv.Value}"))));
            cells.Add(("s/epoch", SecondsPerEpoch(o)));
            cells.Add(("trials", (int?)o["trials_run"]));
            string commit = (string?)o["commit"] ?? "";
            cells.Add(("commit", commit[..Math.Min(12, commit.Length)]));
            double key = o["mean"]?[metrics[0]] is JsonNode k ? (double)k : double.NegativeInfinity;
            rows.Add((dataset, protocol, key, cells.ToArray()));
        }
        foreach (var r in rows.OrderBy(r => r.Dataset, StringComparer.Ordinal).ThenBy(r => r.Protocol, StringComparer.Ordinal).ThenByDescending(r => r.Key))
            t.AddRow(r.Cells);
        t.Notes.Add("Each row: the configuration with the best validation metric among the sweep's trials, re-run with its final seeds; test metrics never selected anything.");
        return t;
    }

    /// <summary>The search curves of every finished sweep under <paramref name="sweepsRoot"/> in one chart — the best validation value
    /// of its selection metric so far against the trial number, one line per sweep (dataset/protocol/name) — or null when there
    /// is none. Equal budgets and flat ends are what a fair comparison needs to show.</summary>
    public static Plotly.NET.GenericChart? SearchCurves(string sweepsRoot)
    {
        if (!Directory.Exists(sweepsRoot)) return null;
        var series = new List<Plots.Series>();
        foreach (var path in Directory.EnumerateFiles(sweepsRoot, "chosen.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string dir = Path.GetDirectoryName(path)!;
            string trials = Path.Combine(dir, "trials.json");
            if (!File.Exists(trials)) continue;
            string metric = (string?)JsonNode.Parse(File.ReadAllText(path))?["selection_metric"] ?? "nDCG@10";
            var curve = Sweep.BestSoFar(Sweep.ReadRecords(trials).Where(r => r.Trial >= 0).OrderBy(r => r.Trial).ToList(), metric);
            var xs = Enumerable.Range(1, curve.Length).Where(i => !double.IsNaN(curve[i - 1])).ToList();
            if (xs.Count == 0) continue;
            string name = Path.GetRelativePath(sweepsRoot, dir).Replace(Path.DirectorySeparatorChar, '/');
            series.Add(new Plots.Series(name, xs.Select(i => (double)i).ToList(), xs.Select(i => curve[i - 1]).ToList()));
        }
        return series.Count == 0 ? null : Plots.Charts.Line(series, "trial", "best validation metric so far", "Search curves: best validation score so far per sweep");
    }

    /// <summary>Mean wall seconds per epoch over the final runs (training, validation and test evaluation included), or null
    /// for a sweep recorded before final runs kept their epoch count.</summary>
    private static double? SecondsPerEpoch(JsonObject chosen)
    {
        var perRun = (chosen["final_runs"] as JsonArray ?? [])
            .Where(f => (string?)f!["status"] == "ok" && f["epochs"] is JsonNode e && (int)e > 0)
            .Select(f => (double)f!["seconds"]! / (int)f["epochs"]!).ToList();
        return perRun.Count == 0 ? null : perRun.Average();
    }

    /// <summary>
    /// The chosen configurations as reproduction presets, in the shape {"datasets": {dataset: {model: {"settings": {…},
    /// "train": {…}, "chosen_by": "…"}}}}: model settings and trainer settings split as <see cref="Sweep.Route"/> does, plus the
    /// sweep's epoch cap. Only sweeps named after their model are included (variants such as cml-warp or neumf-pre are not a
    /// registry model and are listed under "variants" with their settings).
    /// </summary>
    public static JsonObject Presets(string sweepsRoot)
    {
        var datasets = new JsonObject();
        var variants = new JsonArray();
        if (!Directory.Exists(sweepsRoot)) return new JsonObject { ["datasets"] = datasets, ["variants"] = variants };
        foreach (var path in Directory.EnumerateFiles(sweepsRoot, "chosen.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var o = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            string dir = Path.GetDirectoryName(path)!, sweep = Path.GetFileName(dir), model = (string)o["model"]!, dataset = (string)o["dataset"]!;
            var pairs = o["settings"]!.AsObject().Select(kv => new KeyValuePair<string, string>(kv.Key, (string)kv.Value!))
                .Where(kv => kv.Key != "pretrain").ToList();
            var (m, t) = Sweep.Route(pairs);
            var settings = new JsonObject(); foreach (var (k, v) in m) settings[k] = v;
            var train = new JsonObject(); foreach (var (k, v) in t) train[k] = v;
            string specPath = Path.Combine(dir, "sweep.json");
            if (File.Exists(specPath) && JsonNode.Parse(File.ReadAllText(specPath))?["epochs"] is JsonNode e) train["epochs"] = (int)e;
            string how = string.Create(CultureInfo.InvariantCulture,
                $"lrml sweep: best validation {(string?)o["selection_metric"]} of {(int?)o["trials_run"]} trials ({(string?)o["search"]}), {(int?)o["n"]} final seeds, commit {((string?)o["commit"] ?? "")[..Math.Min(12, ((string?)o["commit"] ?? "").Length)]}");
            var entry = new JsonObject { ["settings"] = settings, ["train"] = train, ["chosen_by"] = how };
            if (sweep != model) { entry["dataset"] = dataset; entry["sweep"] = sweep; entry["model"] = model; variants.Add(entry); continue; }
            if (datasets[dataset] is not JsonObject d) datasets[dataset] = d = new JsonObject();
            d[model] = entry;
        }
        return new JsonObject { ["datasets"] = datasets, ["variants"] = variants };
    }

    /// <summary>"0.7012 ± 0.0031" for a row and metric of a collected table (empty when missing).</summary>
    public static string MeanStd(ResultTable table, int row, string metric) =>
        table.Get(row, metric) is double m
            ? string.Create(CultureInfo.InvariantCulture, $"{m:F4} ± {(table.Get(row, metric + " std") as double? ?? 0):F4}")
            : "";
}
