using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Reproduction;
using Lrml.Protocols;

namespace Lrml.Tests.Reproduction.Tables;

/// <summary>Findings computed from reports, the duration estimate, the ablation plan, and the runs writing their charts.</summary>
public class ReproductionReportTests
{
    private static ExperimentContext Context(string root) => new()
    {
        Data = new DataDirectory(Path.Combine(root, "no-data")),
        ResultsRoot = root,
    };

    private static StoredRun Run(string model, int epochs, int best, bool stoppedEarly = false) => new(new RunResult
    {
        Dataset = "ml-1m", Protocol = "ncf", Model = model, Config = new JsonObject(), Seed = 1,
        Metrics = new SortedDictionary<string, double> { ["HR@10"] = 0.5 }, TrainSeconds = 1, Epochs = epochs, BestEpoch = best,
        StoppedEarly = stoppedEarly, Commit = "abc",
    }, new Dictionary<string, Dictionary<int, double>>(), "/tmp/run-" + model);

    [Fact]
    public void MainTableFindings_AreComputedFromTheTables()
    {
        var table = ReproductionChartsTests.MainTableByHand();
        var headline = new ResultTable("headline", "dataset", "metric", "LRML", "best baseline", "baseline", "relative improvement %", "paired t-test p");
        headline.AddRow(("dataset", "ml-1m"), ("metric", "HR@10"), ("LRML", 0.70), ("best baseline", "CML"), ("baseline", 0.66),
            ("relative improvement %", 100 * (0.70 - 0.66) / 0.66), ("paired t-test p", 0.0123));
        var significance = new ResultTable("significance");
        significance.AddRow(("dataset", "ml-1m"), ("versus", "CML"), ("users", 6040), ("mean diff", 0.02), ("t", 2.5), ("t-test p", 0.2), ("Wilcoxon p", 0.3));
        var report = new MainTableReport
        {
            Table = table, Headline = headline, Significance = significance, OutputDirectory = "/tmp/x",
            Runs = [Run("LRML", 8, 8), Run("CML", 8, 5), Run("BPR-MF", 8, 8, stoppedEarly: true), Run("Popularity", 0, 0)],
        };
        var points = report.Findings().Points;
        string all = string.Join("\n", points);

        // ml-1m ranked by sampled nDCG@10: LRML 0.42 before CML 0.40
        Assert.Contains("**ml-1m** (ncf, 2 seed(s)): by sampled nDCG@10 LRML 0.4200 ± 0.0200 (HR@10 0.7000), CML 0.4000 ± 0.0400", all);
        // relative improvement (0.70 − 0.66) / 0.66 = +6.06 %
        Assert.Contains("LRML against the best metric-learning baseline on ml-1m (CML): HR@10 +6.06 % (paired t-test p = 0.0123)", all);
        Assert.Contains("On ml-1m, LRML's per-user nDCG@10 does not differ significantly (paired t-test, 5 %) from CML (mean per-user difference +0.0200, t-test p = 0.2, Wilcoxon p = 0.3)", all);
        // full ranking: CML 0.060 ahead of LRML 0.050, the reverse of the sampled order; these runs carry no per-user
        // values, so the gap cannot be tested against the noise and is not called a reordering
        Assert.DoesNotContain("reorders the models", all);
        Assert.Contains("Full ranking on ml-1m swaps CML (0.0600) ahead of LRML (0.0500), no per-user values to test relative to the sampled order, " +
                        "but by no more than the noise (paired t-test over per-user full nDCG@10, seeds averaged, p ≥ 0.05): not counted as a reordering.", all);
        // one dataset row only: no reordering claim for ml-100k
        Assert.DoesNotContain("Full ranking on ml-100k reorders", all);
        // LRML's best epoch is its last (still improving); CML stopped improving; BPR-MF stopped early; popularity does not train
        Assert.Contains("1 of 3 trained runs had their best validation score at their last epoch", all);
        // the hand-made table has no paper numbers and ml-1m has known cells in the data file: nothing claimed either way
        Assert.DoesNotContain("in the paper", all);
        Assert.Contains("- **ml-1m**", report.Findings().ToMarkdown());
    }

    private static StoredRun RunWithUsers(string model, int seed, Func<int, double> fullNdcg) => new(new RunResult
    {
        Dataset = "ml-1m", Protocol = "ncf", Model = model, Config = new JsonObject(), Seed = seed,
        Metrics = new SortedDictionary<string, double> { ["HR@10"] = 0.5, ["full/nDCG@10"] = 0.05 }, TrainSeconds = 1, Epochs = 3, BestEpoch = 2,
        Commit = "abc",
    }, new Dictionary<string, Dictionary<int, double>> { ["full/nDCG@10"] = Enumerable.Range(0, 200).ToDictionary(u => u, fullNdcg) },
        $"/tmp/run-{model}-{seed}");

    private static string MainFindingsWith(IReadOnlyList<StoredRun> runs) => string.Join("\n", new MainTableReport
    {
        Table = ReproductionChartsTests.MainTableByHand(), Headline = new ResultTable("h"), Significance = new ResultTable("s"),
        OutputDirectory = "/tmp/x", Runs = runs,
    }.Findings().Points);

    [Fact]
    public void FullRankingReorders_OnlyWhenThePairedGapExceedsTheNoise()
    {
        // CML ahead of LRML by 0.01 for every user: the paired t-test is decisive, the reordering is claimed
        string clear = MainFindingsWith([RunWithUsers("LRML", 1, u => 0.05 + 0.001 * (u % 3)), RunWithUsers("CML", 1, u => 0.06 + 0.001 * (u % 3))]);
        Assert.Contains("Full ranking on ml-1m reorders the models (CML > LRML by full nDCG@10): CML (0.0600) ahead of LRML (0.0500), p = ", clear);
        Assert.Contains("Krichene and Rendle", clear);
        // per-user differences that flip sign around a tiny mean gap: within noise, no reordering claimed
        string noise = MainFindingsWith([RunWithUsers("LRML", 1, u => u % 2 == 0 ? 0.0 : 1.0), RunWithUsers("CML", 1, u => u % 2 == 0 ? 1.0 : 0.0)]);
        Assert.DoesNotContain("reorders the models", noise);
        Assert.Contains("but by no more than the noise (paired t-test over per-user full nDCG@10, seeds averaged, p ≥ 0.05): not counted as a reordering.", noise);
    }

    [Fact]
    public void AblationFindings_OrderSettingsBySpread_AndKeepEachReading()
    {
        var slots = new AblationSpec("slots", "Memory slots N", "slots", ["1", "20"], true);
        var norm = new AblationSpec("norm", "Norm constraint", "norm_constraint", ["clip", "none"], false);
        ResultTable T(string setting, object a, double na, object b, double nb)
        {
            var t = new ResultTable("t", setting, "HR@10", "HR@10 std", "nDCG@10", "nDCG@10 std", "validation nDCG@10", "seeds");
            t.AddRow((setting, a), ("HR@10", 0.5), ("HR@10 std", 0.0), ("nDCG@10", na), ("nDCG@10 std", 0.01), ("validation nDCG@10", na), ("seeds", 2));
            t.AddRow((setting, b), ("HR@10", 0.5), ("HR@10 std", 0.0), ("nDCG@10", nb), ("nDCG@10 std", 0.02), ("validation nDCG@10", nb), ("seeds", 2));
            return t;
        }
        var ts = T("slots", 1.0, 0.25, 20.0, 0.27);
        var tn = T("norm_constraint", "clip", 0.27, "none", 0.17);
        // the preset run "a" is shared by both ablations: three distinct runs, two of them best at their last epoch
        var a = Run("a", 5, 5);
        var report = new AblationReport("ml-100k",
            [new AblationResult(slots, ts, Ablations.Read(slots, ts), [a, Run("b", 5, 3)]),
             new AblationResult(norm, tn, Ablations.Read(norm, tn), [a, Run("c", 5, 5)])],
            new ResultTable("summary"), "/tmp/x");
        var points = report.Findings().Points;
        // spreads: norm 0.10 > slots 0.02; the largest std of each in brackets
        Assert.StartsWith("Settings ordered by how much they move test nDCG@10", points[0]);
        Assert.Contains("Norm constraint 0.1000 (0.0200), Memory slots N 0.0200 (0.0200)", points[0]);
        Assert.Equal(Ablations.Read(slots, ts), points[1]);
        Assert.Contains("best norm_constraint=clip", points[2]);
        Assert.Contains("Clearly worse than the best", points[2]);   // 0.10 > 2 × pooled std √((0.01² + 0.02²)/2)
        Assert.Equal("3 distinct runs on ml-100k; the preset configuration is trained once and shared by every ablation.", points[3]);
        Assert.StartsWith("2 of 3 runs had their best validation score at their last epoch (at most 5 epochs)", points[4]);
    }

    /// <summary>An ablation table with usage columns: rows of (value, test nDCG, its std, validation nDCG, H/lnN, preset?).</summary>
    private static ResultTable UsageTable(string setting, params (string Value, double Test, double Std, double Val, double Ratio, bool Preset)[] rows)
    {
        var t = new ResultTable("t", setting, "HR@10", "nDCG@10", "nDCG@10 std", "validation nDCG@10", "seeds", "H/lnN", "max a", "r spread", "preset");
        foreach (var r in rows)
            t.AddRow((setting, r.Value), ("HR@10", 0.6), ("nDCG@10", r.Test), ("nDCG@10 std", r.Std), ("validation nDCG@10", r.Val), ("seeds", 3),
                ("H/lnN", r.Ratio), ("max a", 0.05), ("r spread", 0.0005), ("preset", r.Preset ? "yes" : ""));
        return t;
    }

    private static AblationReport UsageReport(params (string Value, double Test, double Std, double Val, double Ratio, bool Preset)[] rows)
    {
        var spec = new AblationSpec("temperature", "Attention temperature", "attention_temperature", rows.Select(r => r.Value).ToList(), false);
        var t = UsageTable("attention_temperature", rows);
        return new AblationReport("ml-100k", [new AblationResult(spec, t, "", [])], new ResultTable("s"), "/tmp/x");
    }

    private static IReadOnlyList<string> Verdict(params (string Value, double Test, double Std, double Val, double Ratio, bool Preset)[] rows) =>
        Ablations.MemoryVerdict(UsageReport(rows));

    [Fact]
    public void BestUsedSettings_IsTheUsedSettingBestOnValidation_OrABundle()
    {
        var report = UsageReport(("1", 0.30, 0.01, 0.33, 0.9999, true), ("0.01", 0.35, 0.01, 0.36, 0.70, false), ("0.003", 0.40, 0.01, 0.20, 0.50, false));
        Assert.Equal([new KeyValuePair<string, string>("attention_temperature", "0.01")], Ablations.BestUsedSettings(report));
        Assert.Null(Ablations.BestUsedSettings(UsageReport(("1", 0.30, 0.01, 0.33, 0.9999, true), ("0.1", 0.3, 0.01, 0.3, 0.95, false))));
        var bundles = Ablations.For(Profile.Quick).Single(a => a.Name == "used-memory");
        var t = UsageTable("memory_setting", ("preset", 0.30, 0.01, 0.33, 0.9999, true), ("tau-0.01+memory-lr-5e-5", 0.31, 0.01, 0.34, 0.60, false));
        var fromBundle = Ablations.BestUsedSettings(new AblationReport("ml-100k", [new AblationResult(bundles, t, "", [])], new ResultTable("s"), "/tmp/x"));
        Assert.Equal([new("attention_temperature", "0.01"), new KeyValuePair<string, string>("memory_learning_rate", "5e-5")], fromBundle);
    }

    [Fact]
    public void MemoryVerdict_ComparesTheBestUsedSettingByValidationWithThePresetAgainstSeedNoise()
    {
        // preset unused (0.9999); 0.01 used (0.70) and best on validation; 0.003 used but worse on validation
        var helps = Verdict(("1", 0.30, 0.01, 0.33, 0.9999, true), ("0.01", 0.35, 0.01, 0.36, 0.70, false), ("0.003", 0.40, 0.01, 0.20, 0.50, false));
        Assert.Equal("Memory usage of the preset at its best epoch: attention entropy / ln N = 0.9999, mean max attention 0.050, spread of r across pairs 0.0005: " +
                     "the memory is **not used** (threshold 0.9).", helps[0]);
        Assert.Equal("Settings whose memory is used (entropy / ln N, test nDCG@10): attention_temperature=0.003 (0.500, 0.4000); attention_temperature=0.01 (0.700, 0.3500).", helps[1]);
        // chosen on validation (0.01), not on test (0.003): +0.05 > 2 × 0.01
        Assert.Equal("The best of them by validation nDCG@10, attention_temperature=0.01 (entropy / ln N 0.700), has test nDCG@10 0.3500 ± 0.0100 (HR@10 0.6000) " +
                     "against the preset's 0.3000 ± 0.0100 (HR@10 0.6000), a difference of +0.0500 (+16.67 %). **A used memory helps** by 0.0500 nDCG@10 " +
                     "(more than twice the pooled seed std 0.0100).", helps[2]);
        Assert.Equal("What this used memory learned: `lrml reproduce relations --datasets ml-100k --set attention_temperature=0.01` (the relation probes on it).", helps[3]);
        var worse = Verdict(("1", 0.30, 0.01, 0.33, 0.9999, true), ("0.01", 0.25, 0.01, 0.30, 0.70, false));
        Assert.EndsWith("**A used memory does not help**: it is worse by 0.0500 nDCG@10 (more than twice the pooled seed std 0.0100).", worse[2]);
        var noise = Verdict(("1", 0.30, 0.02, 0.33, 0.9999, true), ("0.01", 0.31, 0.02, 0.30, 0.70, false));
        Assert.EndsWith("**A used memory does not help measurably**: the difference is within twice the pooled seed std (0.0200).", noise[2]);
        var none = Verdict(("1", 0.30, 0.02, 0.33, 0.9999, true), ("0.1", 0.31, 0.02, 0.30, 0.95, false));
        Assert.Equal("No setting of the study made the memory used (entropy / ln N below 0.9; the lowest was 0.9500): the study cannot say whether a used memory helps.", none[1]);
    }

    [Fact]
    public void UsageTable_ListsEverySettingMostUsedMemoryFirst()
    {
        var spec = new AblationSpec("temperature", "Attention temperature", "attention_temperature", ["1", "0.01", "0.1"], false);
        var t = UsageTable("attention_temperature", ("1", 0.30, 0.01, 0.33, 0.9999, true), ("0.01", 0.25, 0.01, 0.30, 0.70, false), ("0.1", 0.31, 0.01, 0.3, 0.95, false));
        var u = Ablations.UsageTable(new AblationReport("ml-100k", [new AblationResult(spec, t, "", [])], new ResultTable("s"), "/tmp/x"));
        Assert.Equal(["attention_temperature=0.01", "attention_temperature=0.1", "attention_temperature=1"], Enumerable.Range(0, 3).Select(r => u.Text(r, "setting")));
        Assert.Equal(["yes", "no", "no"], Enumerable.Range(0, 3).Select(r => u.Text(r, "used")));
        Assert.Equal(0.25, (double)u.Get(0, "nDCG@10")!);
    }

    [Fact]
    public void RunSeconds_IsPlannedWorkOverMeasuredThroughput()
    {
        // 3 users, 5 items; 4 training pairs; validation and test: one item per user, 2 sampled negatives each
        var train = UserItems.FromLists(5, [[0, 1], [2], [3]]);
        var one = UserItems.FromLists(5, [[4], [4], [4]]);
        var negatives = UserItems.FromLists(5, [[2, 3], [0, 1], [0, 1]]);
        var split = new Split
        {
            Dataset = "d", Protocol = "leave-last-out", Train = train, Validation = one, Test = one,
            ValidationNegatives = negatives, TestNegatives = negatives,
        };
        var spec = new RunSpec
        {
            Dataset = "d", Model = "lrml", SampledNegatives = 2, FullRanking = true,
            Train = new Lrml.Training.TrainConfig { Epochs = 10, EvalEvery = 1 },
        };
        var speed = new DurationEstimator.Throughput(TriplesPerSecond: 2, ScoresPerSecond: 3);
        // per epoch: 4 pairs / 2 = 2 s training + 3 users × 3 candidates / 3 = 3 s validation → 5 s; × 10 epochs = 50 s
        // test: sampled 3 × 3 = 9 scores + full 3 × 5 = 15 scores → 24 / 3 = 8 s; + 1 s overhead
        Assert.Equal(50 + 8 + DurationEstimator.OverheadSecondsPerRun, DurationEstimator.RunSeconds(spec, split, speed), 9);
        // a model that does not train (NaN triples/s): only the test scores and the overhead
        Assert.Equal(8 + DurationEstimator.OverheadSecondsPerRun,
            DurationEstimator.RunSeconds(spec, split, speed with { TriplesPerSecond = double.NaN }), 9);
        // validation every 2 epochs halves its share; no full ranking drops 15 scores
        Assert.Equal(10 * (2 + 1.5) + 3 + DurationEstimator.OverheadSecondsPerRun,
            DurationEstimator.RunSeconds(spec with { FullRanking = false, Train = spec.Train with { EvalEvery = 2 } }, split, speed), 9);
    }

    [Fact]
    public void DurationFormat_ReadsLikeAPerson()
    {
        Assert.Equal("40 s", DurationEstimate.Format(TimeSpan.FromSeconds(40.2)));
        Assert.Equal("12 min", DurationEstimate.Format(TimeSpan.FromMinutes(12.3)));
        Assert.Equal("2 h 10 min", DurationEstimate.Format(TimeSpan.FromMinutes(130)));
    }

    [Fact]
    public void AblationPlan_TrainsThePresetOnceForEveryAblation_QuickCapsEpochs()
    {
        string root = Directory.CreateTempSubdirectory("lrml-abl").FullName;
        try
        {
            var options = new AblationOptions { Profile = Profile.Quick, Dataset = "synthetic" };
            var byValue = Ablations.PlanByValue(options, Context(root));
            int seeds = Profile.Quick.Seeds;
            var preset = Presets.Get("lrml", "synthetic");
            int values = Ablations.For(Profile.Quick).Sum(a => Ablations.ValuesOf(a, preset).Count);
            Assert.Equal(values, byValue.Count);
            // exactly one value per ablation is the preset (N = 20, d = 100, margin 0.5, sqrt-l2, reuse, clip, trained memory,
            // τ = 1, σ of the memory = init_scale 0.1, memory lr = the preset's lr 1e-3 (added to the grid), no rank weighting)
            var presetValues = byValue.Where(v => v.Runs[0].Directory.Contains(Path.Combine("runs", "preset"), StringComparison.Ordinal)).ToList();
            Assert.Equal(["20", "100", "0.5", "sqrt-l2", "reuse", "clip", "true", "1", "0.1", "0.001", "none", "preset"], presetValues.Select(v => v.Value));
            Assert.Equal(["5e-5", "0.001", "5e-3"], byValue.Where(v => v.Spec.Name == "memory-lr").Select(v => v.Value));
            var plan = Ablations.Plan(options, Context(root));
            Assert.Equal((values - Ablations.For(Profile.Quick).Count + 1) * seeds, plan.Count);
            // a bundle changes all of its settings and nothing else
            var bundle = byValue.Single(v => v.Spec.Name == "used-memory" && v.Value == "tau-0.01+memory-lr-5e-5").Runs[0].Spec;
            Assert.Contains(bundle.Settings, kv => kv.Key == "attention_temperature" && kv.Value == "0.01");
            Assert.Contains(bundle.Settings, kv => kv.Key == "memory_learning_rate" && kv.Value == "5e-5");
            Assert.Equal(preset.Settings.Count + 2, bundle.Settings.Count);
            Assert.Equal(plan.Count, plan.Select(p => p.Directory).Distinct().Count());
            Assert.All(plan, p => Assert.Equal(Ablations.QuickMaxEpochs, p.Spec.Train.Epochs));
            // a non-preset value changes exactly its own setting
            var frozen = byValue.Single(v => v.Spec.Name == "memory" && v.Value == "false").Runs[0].Spec;
            Assert.Contains(frozen.Settings, kv => kv.Key == "train_memory" && kv.Value == "false");
            // the full profile keeps the preset's epochs
            Assert.All(Ablations.Plan(options with { Profile = Profile.Full }, Context(root)), p => Assert.Equal(30, p.Spec.Train.Epochs));
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    [Fact]
    public void CostGrid_VariesNAtTheFixedDAndDAtTheFixedN_BothCurvesMeet()
    {
        foreach (var profile in new[] { Profile.Quick, Profile.Full })
        {
            var grid = Dynamics.CostGrid(profile);
            Assert.Contains((Dynamics.CostSlots, Dynamics.CostDim), grid);
            Assert.True(grid.Count(g => g.Dim == Dynamics.CostDim) >= 3, "cost vs N needs at least three points");
            Assert.True(grid.Count(g => g.Slots == Dynamics.CostSlots) >= 3, "cost vs d needs at least three points");
            Assert.Equal(grid.Count, grid.Distinct().Count());
        }
    }

    [Fact]
    public void MainTableRun_WritesTablesChartsAndFindings_EstimateBeforeAndReuseAfter()
    {
        string root = Directory.CreateTempSubdirectory("lrml-main").FullName;
        try
        {
            var ctx = Context(root);
            var options = new MainTableOptions
            {
                Profile = Profile.Quick with { MaxEpochs = 1 }, Datasets = ["synthetic"], Models = ["pop", "bpr"], Seeds = 1,
                Threads = 1, ChartImages = false,
            };
            var before = MainTable.Estimate(options, ctx);
            Assert.Equal(2, before.Runs);
            Assert.Equal(0, before.Reused);
            Assert.True(before.Total.TotalSeconds > 0);
            int bpr = Enumerable.Range(0, before.Table.Rows.Count).Single(r => before.Table.Text(r, "model") == "BPR-MF");
            Assert.True((double)before.Table.Get(bpr, "triples/s")! > 0);
            Assert.Contains("This is an estimate", before.Summary);

            var report = MainTable.Run(options, ctx);
            string dir = report.OutputDirectory;
            foreach (var f in new[] { "main-table.csv", "headline.md", "significance.csv", "findings.md", "main-table-sampled.html", "main-table-full.html" })
                Assert.True(File.Exists(Path.Combine(dir, f)), f + " missing");
            Assert.Equal(2, report.ChartFiles.Count);
            Assert.StartsWith("## What the main table found", File.ReadAllText(Path.Combine(dir, "findings.md")));
            Assert.Contains("**synthetic**", File.ReadAllText(Path.Combine(dir, "findings.md")));

            var after = MainTable.Estimate(options, ctx);
            Assert.Equal(2, after.Reused);
            Assert.Equal(TimeSpan.Zero, after.Total);
            Assert.StartsWith("Nothing to train", after.Summary);
            Assert.All(MainTable.Plan(options, ctx), p => Assert.True(p.IsFinishedIn(ctx)));
            // a changed configuration is not "finished"
            var changed = MainTable.Plan(options with { Profile = Profile.Quick with { MaxEpochs = 2 } }, ctx);
            Assert.Contains(changed, p => !p.IsFinishedIn(ctx));
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    [Fact]
    public void AblationRun_SharesThePresetRuns_WritesOneChartPerAblation()
    {
        string root = Directory.CreateTempSubdirectory("lrml-abl-run").FullName;
        try
        {
            var options = new AblationOptions
            {
                Profile = Profile.Quick with { MaxEpochs = 1 }, Dataset = "synthetic", Only = ["memory", "negative-relation"], Seeds = 1,
                Threads = 1, ChartImages = false,
            };
            var report = Ablations.Run(options, Context(root));
            Assert.Equal(["memory", "negative-relation"], report.Results.Select(r => r.Spec.Name).OrderBy(n => n, StringComparer.Ordinal));
            // preset shared: 3 distinct runs (preset, frozen memory, recomputed negative relation), not 4
            Assert.Equal(3, report.Results.SelectMany(r => r.Runs).Select(r => r.Directory).Distinct().Count());
            var memoryPreset = report.Results.Single(r => r.Spec.Name == "memory").Runs[0];
            var negPreset = report.Results.Single(r => r.Spec.Name == "negative-relation").Runs[0];
            Assert.Same(memoryPreset, negPreset);
            Assert.Equal(4, report.ChartFiles.Count);
            Assert.True(File.Exists(Path.Combine(report.OutputDirectory, "ablation-memory.html")));
            Assert.True(File.Exists(Path.Combine(report.OutputDirectory, "ablation-memory-usage.html")));
            Assert.True(File.Exists(Path.Combine(report.OutputDirectory, "ablation-memory-usage-curves.html")));
            Assert.True(File.Exists(Path.Combine(report.OutputDirectory, "memory-usage.csv")));
            Assert.True(File.Exists(Path.Combine(report.OutputDirectory, "findings.md")));
            Assert.Equal(report.Results.Select(r => "ablation-" + r.Spec.Name).Concat(["ablation-memory-usage", "ablation-memory-usage-curves"]),
                report.Charts().Select(c => c.Name));
            // every row reports the memory usage of its runs (trained memory: gradients reach K and M; frozen: not measured)
            var memory = report.Results.Single(r => r.Spec.Name == "memory").Table;
            for (int row = 0; row < 2; row++) Assert.InRange((double)memory.Get(row, "H/lnN")!, 0.0, 1.0 + 1e-9);
            Assert.True((double)memory.Get(0, "grad K")! > 0);
            Assert.True(double.IsNaN((double)memory.Get(1, "grad K")!));
            Assert.Equal(["yes", ""], new[] { memory.Text(0, "preset"), memory.Text(1, "preset") });
            Assert.Contains(report.Findings().Points, p => p.StartsWith("Memory usage of the preset at its best epoch", StringComparison.Ordinal));
        }
        finally { Directory.Delete(root, recursive: true); }
    }
}
