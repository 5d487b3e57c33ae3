using System.Globalization;
using System.Text;
using Lrml.Data;
using Lrml.Evaluation;
using Lrml.Experiments;
using Lrml.Reproduction;
using Lrml.Protocols;

namespace Lrml.Notebooks;

/// <summary>
/// HTML renderings of the kit's result types (what <see cref="KitFormatters"/> shows in notebooks), also usable for
/// reports. Each builds <see cref="HtmlTable"/>s, so the plain-text form is available through the table too.
/// </summary>
public static class KitHtml
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    /// <summary>One run: what was run (key/value) and its metrics (test and validation side by side).</summary>
    public static string RunResult(RunResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var what = HtmlTable.KeyValue(new KeyValuePair<string, string>[]
        {
            new("model", r.Model), new("dataset", r.Dataset), new("protocol", r.Protocol),
            new("seed", r.Seed.ToString(Ci)),
            new("epochs", r.Epochs.ToString(Ci) + (r.BestEpoch > 0 ? $" (best {r.BestEpoch.ToString(Ci)}{(r.StoppedEarly ? ", stopped early" : "")})" : "")),
            new("train time", $"{r.TrainSeconds.ToString("0.##", Ci)} s" + (r.SecondsPerEpoch > 0 ? $" ({r.SecondsPerEpoch.ToString("0.###", Ci)} s/epoch)" : "")),
            new("evaluation time", $"{r.EvalSeconds.ToString("0.##", Ci)} s"),
            new("test users", r.TestUsers.ToString("N0", Ci)),
            new("threads", r.Threads.ToString(Ci)),
            new("commit", r.Commit),
        }, $"Run: {r.Model} on {r.Dataset} ({r.Protocol}, seed {r.Seed.ToString(Ci)})");
        return "<div class=\"lrml-run\" style=\"display:flex;gap:24px;flex-wrap:wrap\">" + what.ToHtml() + MetricsTable(r).ToHtml() + "</div>";
    }

    /// <summary>The metrics of a run: one row per metric, test and validation columns.</summary>
    public static HtmlTable MetricsTable(RunResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var t = new HtmlTable(["metric", "test", "validation"], "Metrics");
        foreach (var name in r.Metrics.Keys.Union(r.ValidationMetrics.Keys).OrderBy(MetricOrder).ThenBy(n => n, StringComparer.Ordinal))
            t.AddRow(name, r.Metrics.TryGetValue(name, out double test) ? test : double.NaN,
                r.ValidationMetrics.TryGetValue(name, out double val) ? val : double.NaN);
        return t;
    }

    /// <summary>Several runs in one table: one row per run, one column per test metric (the union over runs).</summary>
    public static string RunResults(IEnumerable<RunResult> runs) => RunsTable(runs).ToHtml();

    /// <summary>The table behind <see cref="RunResults"/>.</summary>
    public static HtmlTable RunsTable(IEnumerable<RunResult> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var list = runs.ToList();
        var metrics = list.SelectMany(r => r.Metrics.Keys).Distinct().OrderBy(MetricOrder).ThenBy(n => n, StringComparer.Ordinal).ToArray();
        var t = new HtmlTable(new[] { "model", "dataset", "protocol", "seed" }.Concat(metrics).Concat(["epochs", "train s"]),
            $"{list.Count} run{(list.Count == 1 ? "" : "s")}");
        foreach (var r in list)
        {
            var cells = new List<object?> { r.Model, r.Dataset, r.Protocol, r.Seed.ToString(Ci) };
            foreach (var m in metrics) cells.Add(r.Metrics.TryGetValue(m, out double v) ? v : double.NaN);
            cells.Add(r.Epochs); cells.Add(r.TrainSeconds);
            t.AddRow(cells.ToArray());
        }
        return t;
    }

    /// <summary>An evaluation: the mean of each metric over the evaluated users, with the counts and time.</summary>
    public static string Evaluation(EvaluationResult e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var names = e.MetricNames.Count > 0 ? e.MetricNames : e.Metrics.Keys.ToList();
        var t = new HtmlTable(["metric", "mean over users"],
            $"{(e.ModelName.Length > 0 ? e.ModelName + " · " : "")}{e.Target} · {(e.Mode == CandidateMode.Sampled ? "sampled candidates" : "full ranking")}");
        foreach (var n in names) t.AddRow(n, e.Metrics[n]);
        t.Note = $"{e.Users.Length.ToString("N0", Ci)} users evaluated" +
                 (e.SkippedUsers > 0 ? $", {e.SkippedUsers.ToString("N0", Ci)} skipped (no candidates)" : "") +
                 $", {e.Seconds.ToString("0.##", Ci)} s; per-user values: ToDataFrame()";
        return t.ToHtml();
    }

    /// <summary>A dataset card as a two-column table.</summary>
    public static string DatasetCard(DatasetCard card)
    {
        ArgumentNullException.ThrowIfNull(card);
        return HtmlTable.KeyValue(card.Rows(), $"Dataset card: {card.Name}").ToHtml();
    }

    /// <summary>Several dataset cards side by side: one row per dataset with the headline numbers.</summary>
    public static string DatasetCards(IEnumerable<DatasetCard> cards) => DatasetCardsTable(cards).ToHtml();

    /// <summary>The table behind <see cref="DatasetCards"/>.</summary>
    public static HtmlTable DatasetCardsTable(IEnumerable<DatasetCard> cards)
    {
        ArgumentNullException.ThrowIfNull(cards);
        var t = new HtmlTable(["dataset", "users", "items", "interactions", "density", "median per user", "median per item", "ratings", "time range"], "Datasets");
        foreach (var c in cards)
        {
            string ratings = c.RatingHistogram is { Count: > 0 } h
                ? $"{h[0].Key.ToString("0.#", Ci)}–{h[^1].Key.ToString("0.#", Ci)} ({h.Count} values)" : "none";
            string range = c.TimeRange is { } tr ? $"{tr.First.UtcDateTime:yyyy-MM-dd} – {tr.Last.UtcDateTime:yyyy-MM-dd}" : "none";
            t.AddRow(c.Name, c.ActiveUsers, c.ActiveItems, c.Interactions, c.Density.ToString("P3", Ci), c.PerUser.Median, c.PerItem.Median, ratings, range);
        }
        return t;
    }

    /// <summary>A split: sizes of its parts and the notes recorded while building it.</summary>
    public static string Split(Split s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var sizes = new HtmlTable(["part", "users with items", "entries"], $"Split {s.Dataset} / {s.Protocol} (seed {s.Seed.ToString(Ci)})");
        sizes.AddRow("train", s.Train.UsersWithItems(), s.Train.Count);
        sizes.AddRow("validation", s.Validation.UsersWithItems(), s.Validation.Count);
        sizes.AddRow("test", s.Test.UsersWithItems(), s.Test.Count);
        if (s.ValidationNegatives is { } vn) sizes.AddRow("validation sampled negatives", vn.UsersWithItems(), vn.Count);
        if (s.TestNegatives is { } tn) sizes.AddRow("test sampled negatives", tn.UsersWithItems(), tn.Count);
        var sb = new StringBuilder("<div style=\"display:flex;gap:24px;flex-wrap:wrap\">").Append(sizes.ToHtml());
        if (s.Notes.Count > 0) sb.Append(HtmlTable.KeyValue(s.Notes.OrderBy(k => k.Key, StringComparer.Ordinal), "Notes", "note", "value").ToHtml());
        return sb.Append("</div>").ToString();
    }

    /// <summary>A <see cref="Experiments.ResultTable"/> with its own per-column number formats and its notes.</summary>
    public static string ResultTable(ResultTable table) => ResultTableAsHtmlTable(table).ToHtml();

    /// <summary>The <see cref="HtmlTable"/> of a <see cref="Experiments.ResultTable"/> (numeric columns right-aligned).</summary>
    public static HtmlTable ResultTableAsHtmlTable(ResultTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        var t = new HtmlTable(table.Columns, table.Title);
        var numeric = table.Columns.Select(table.IsNumeric).ToArray();
        for (int r = 0; r < table.Rows.Count; r++) t.AddTextRow(table.Columns.Select(c => table.Text(r, c)).ToArray(), numeric);
        if (table.Notes.Count > 0) t.Note = string.Join(" ", table.Notes);
        return t;
    }

    /// <summary>The outcome of <see cref="Experiment.Run"/>: the run's record, and where it was written.</summary>
    public static string RunOutcome(RunOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        string where = outcome.Directory is null ? "" : $"<div style=\"font-size:90%;color:#555\">run directory: {HtmlTable.Encode(outcome.Directory)}</div>";
        return RunResult(outcome.Result) + where;
    }

    /// <summary>A stored run (result and per-user values on disk).</summary>
    public static string StoredRun(StoredRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return RunResult(run.Result) + $"<div style=\"font-size:90%;color:#555\">run directory: {HtmlTable.Encode(run.Directory)}</div>";
    }

    /// <summary>The main-table reproduction: headline, table and significance tests.</summary>
    public static string MainTableReport(MainTableReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return ResultTable(report.Headline) + ResultTable(report.Table) + ResultTable(report.Significance) +
               $"<div style=\"font-size:90%;color:#555\">{report.Runs.Count.ToString("N0", Ci)} runs · written to {HtmlTable.Encode(report.OutputDirectory)}</div>";
    }

    /// <summary>Metric names in a readable order: HR, nDCG, then the rest; @k ascending within a family.</summary>
    private static (int, int) MetricOrder(string name)
    {
        string family = name.Split('@')[0].Replace("full/", "", StringComparison.Ordinal).ToLowerInvariant();
        int f = family switch { "hr" => 0, "ndcg" => 1, "recall" => 2, "precision" => 3, "map" => 4, "mrr" => 5, "auc" => 6, _ => 7 };
        int k = name.Split('@') is [_, var ks] && int.TryParse(ks, NumberStyles.None, Ci, out int kv) ? kv : 0;
        return (name.StartsWith("full/", StringComparison.Ordinal) ? 10 + f : f, k);
    }
}
