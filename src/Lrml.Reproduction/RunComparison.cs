using System.Globalization;
using Lrml.Evaluation;
using Lrml.Experiments;

namespace Lrml.Reproduction;

/// <summary>
/// Two sets of finished runs on the same split — two engines, two optimisers, any two settings — compared per metric:
/// each side's mean ± seed std, the difference, <b>Welch's t-test over the runs' values</b> (the seed is the unit of
/// replication, so this is the test behind "within seed noise") and the paired t-test over per-user values with each
/// side's seeds averaged (far more powerful: it flags differences that a table rounded to three digits hides, and with
/// many users a tiny systematic one). Used to show that the fused engines train the same models as the TorchSharp ones.
/// </summary>
public static class RunComparison
{
    /// <summary>The test level of both tests.</summary>
    public const double Alpha = 0.05;

    /// <summary>The comparison table (one row per metric both sides report); throws when the sides are empty or were
    /// evaluated on different datasets, protocols or splits, naming the run directories.</summary>
    public static ResultTable Compare(IReadOnlyList<StoredRun> a, IReadOnlyList<StoredRun> b, IReadOnlyList<string> metrics,
        string labelA = "A", string labelB = "B")
    {
        if (a.Count == 0 || b.Count == 0) throw new ArgumentException("Each side of a comparison needs at least one finished run.");
        var first = a[0];
        foreach (var r in a.Concat(b))
        {
            if (r.Result.Dataset != first.Result.Dataset || r.Result.Protocol != first.Result.Protocol)
                throw new ArgumentException($"{r.Directory} is {r.Result.Dataset}/{r.Result.Protocol}, {first.Directory} is {first.Result.Dataset}/{first.Result.Protocol}: compare runs of one split.");
            if (!SameSplit(r, first))
                throw new ArgumentException($"{r.Directory} and {first.Directory} were evaluated on different splits ({Describe(r)} vs {Describe(first)}).");
        }
        var t = new ResultTable($"{labelB} against {labelA} on {first.Result.Dataset} ({first.Result.Protocol}): {b.Count} and {a.Count} run(s)",
            "metric", labelA, $"{labelA} std", labelB, $"{labelB} std", "diff", "diff %", "Welch p (runs)", "paired p (users)", "verdict");
        foreach (var m in metrics)
        {
            if (!a.All(r => r.Result.Metrics.ContainsKey(m)) || !b.All(r => r.Result.Metrics.ContainsKey(m))) continue;
            var x = a.Select(r => r.Result.Metrics[m]).ToArray();
            var y = b.Select(r => r.Result.Metrics[m]).ToArray();
            double mx = x.Average(), my = y.Average(), welch = WelchP(x, y);
            var (ua, ub) = MainTable.Aligned(a, b, m);
            double paired = ua.Length < 2 ? double.NaN : Statistics.PairedTTest(ub, ua).PValue;
            t.AddRow(("metric", m), (labelA, mx), ($"{labelA} std", x.Length > 1 ? Statistics.SampleStd(x) : double.NaN), (labelB, my),
                ($"{labelB} std", y.Length > 1 ? Statistics.SampleStd(y) : double.NaN), ("diff", my - mx), ("diff %", mx == 0 ? double.NaN : 100 * (my - mx) / mx),
                ("Welch p (runs)", welch), ("paired p (users)", paired), ("verdict", Verdict(welch, my - mx, labelB)));
        }
        t.Format(labelA, "F4").Format($"{labelA} std", "F4").Format(labelB, "F4").Format($"{labelB} std", "F4").Format("diff", "F4")
            .Format("diff %", "F2").Format("Welch p (runs)", "G3").Format("paired p (users)", "G3");
        t.Notes.Add($"Welch's t-test over the runs' values (seeds are the replicates) decides the verdict at α = {Alpha}; the paired t-test over per-user values (each side's seeds averaged) is shown beside it and is far more sensitive.");
        return t;
    }

    /// <summary>Finished run directories (result.json and per_user_test.csv each); a directory without a result names itself.</summary>
    public static IReadOnlyList<StoredRun> Load(IEnumerable<string> directories) => directories.Select(d =>
        File.Exists(Path.Combine(d, "result.json")) ? RunStore.Load(d) : throw new ArgumentException($"{d}: no result.json there, so not a finished run directory.")).ToList();

    /// <summary>Two-sided p of Welch's unequal-variance t-test; NaN when a side has a single run (no seed-noise estimate).</summary>
    public static double WelchP(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count < 2 || y.Count < 2) return double.NaN;
        double vx = Sq(Statistics.SampleStd(x.ToArray())) / x.Count, vy = Sq(Statistics.SampleStd(y.ToArray())) / y.Count;
        double diff = y.Average() - x.Average();
        if (vx + vy == 0) return diff == 0 ? 1 : 0;
        double df = Sq(vx + vy) / (Sq(vx) / (x.Count - 1) + Sq(vy) / (y.Count - 1));
        return Statistics.StudentTTwoSidedP(diff / Math.Sqrt(vx + vy), df);
    }

    /// <summary>The verdict of one metric: "within seed noise", "{B} above" or "{B} below" (Welch p &lt; α), or "one run: no seed noise".</summary>
    public static string Verdict(double welchP, double diff, string labelB) =>
        double.IsNaN(welchP) ? "one run: no seed noise" : welchP >= Alpha ? "within seed noise" : diff > 0 ? $"{labelB} above" : $"{labelB} below";

    /// <summary>One sentence for a comparison table: which metrics agree within seed noise and which differ.</summary>
    public static string Sentence(ResultTable t, string labelA, string labelB)
    {
        var within = new List<string>(); var differ = new List<string>(); var single = new List<string>();
        for (int r = 0; r < t.Rows.Count; r++)
        {
            string m = t.Text(r, "metric"), v = t.Text(r, "verdict");
            (v == "within seed noise" ? within : v.StartsWith("one run", StringComparison.Ordinal) ? single : differ)
                .Add(v == "within seed noise" || v.StartsWith("one run", StringComparison.Ordinal) ? m : $"{m} ({v}, {Signed((double)t.Get(r, "diff %")!)} %)");
        }
        var parts = new List<string>();
        if (within.Count > 0) parts.Add($"agree within seed noise on {string.Join(", ", within)}");
        if (differ.Count > 0) parts.Add($"differ on {string.Join(", ", differ)}");
        if (single.Count > 0) parts.Add($"cannot be tested on {string.Join(", ", single)} (a side has one run)");
        return parts.Count == 0 ? "No metric is reported by both sides." : $"{labelB} and {labelA} {string.Join("; ", parts)}.";
    }

    private static string Signed(double v) => (v >= 0 ? "+" : "−") + Math.Abs(v).ToString("0.00", CultureInfo.InvariantCulture);

    private static double Sq(double v) => v * v;

    private static bool SameSplit(StoredRun r, StoredRun first) =>
        r.Result.Split.Count == first.Result.Split.Count && r.Result.Split.All(kv => first.Result.Split.TryGetValue(kv.Key, out var v) && v == kv.Value);

    private static string Describe(StoredRun r) => string.Join(", ", r.Result.Split.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}"));
}
