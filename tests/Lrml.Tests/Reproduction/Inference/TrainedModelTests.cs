using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Evaluation;
using Lrml.Experiments;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Reproduction;
using Lrml.Tests.Cli;
using Lrml.Training;

namespace Lrml.Tests.Reproduction.Inference;

/// <summary>Tiny runs on the embedded synthetic data, trained once for the tests of this file.</summary>
public sealed class TrainedRuns : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("lrml-infer").FullName;
    public ExperimentContext Context { get; }
    public string Fused { get; }
    public string Torch { get; }
    public string Peaked { get; }
    public string Cml { get; }

    public TrainedRuns()
    {
        Context = new ExperimentContext { Data = new DataDirectory(Path.Combine(Root, "no-data")), ResultsRoot = Root };
        Fused = Train("fused", "lrml", "fused", "dim=8", "slots=4");
        Torch = Train("torch", "lrml", "torch", "dim=8", "slots=4");
        // a sharp attention: a low temperature over a large memory init makes some slots dominate
        Peaked = Train("peaked", "lrml", "fused", "dim=8", "slots=4", "attention_temperature=0.005", "memory_init_scale=1");
        Cml = Train("cml", "cml", null, "dim=8");
    }

    private string Train(string name, string model, string? engine, params string[] settings)
    {
        string dir = Path.Combine(Root, name);
        Experiment.Run(new RunSpec
        {
            Dataset = "synthetic", Model = model, Engine = engine, Settings = ConfigBinder.ParsePairs(settings),
            Train = new TrainConfig { Epochs = 2, BatchSize = 512, Seed = 4, Threads = 1 },
        }, Context, dir);
        return dir;
    }

    /// <summary>A copy of a run directory without some of its files.</summary>
    public string CopyWithout(string run, params string[] files)
    {
        string dir = Path.Combine(Root, "copy-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(run))
            if (!files.Contains(Path.GetFileName(f))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        return dir;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}

public sealed class TrainedModelTests(TrainedRuns runs) : IClassFixture<TrainedRuns>
{
    public static TheoryData<string> Engines() => new("fused", "torch");

    private string RunOf(string engine) => engine == "torch" ? runs.Torch : runs.Fused;

    [Theory]
    [MemberData(nameof(Engines))]
    public void RecommendReturnsKUnseenItemsBestFirstAndNoCandidateScoresHigher(string engine)
    {
        using var m = TrainedModel.Load(RunOf(engine), runs.Context);
        Assert.Equal(engine, (string?)m.Result!.Config["model"]!["engine"]);
        const string user = "user-7";
        int u = m.UserIndex(user);
        var recs = m.Recommend(user, 10);
        Assert.Equal(10, recs.Count);
        Assert.Equal(Enumerable.Range(1, 10), recs.Select(r => r.Rank));
        Assert.All(recs, r => Assert.False(m.Split.Train.Contains(u, r.Item.Index), $"{r.Item.Id} is a training item"));
        Assert.All(recs, r => Assert.False(m.Split.Validation.Contains(u, r.Item.Index), $"{r.Item.Id} is a validation item"));
        for (int x = 1; x < recs.Count; x++) Assert.True(recs[x - 1].Score >= recs[x].Score);
        // no candidate left out scores above the 10th: the list is the top of all items minus the user's known ones
        var all = new float[m.Split.NumItems];
        m.Model.ScoreAllItems([u], all);
        var chosen = recs.Select(r => r.Item.Index).ToHashSet();
        for (int i = 0; i < all.Length; i++)
            if (!chosen.Contains(i) && !m.Split.Train.Contains(u, i) && !m.Split.Validation.Contains(u, i))
                Assert.True(all[i] <= recs[^1].Score, $"item {i} scores {all[i]} above the 10th ({recs[^1].Score})");
        Assert.All(recs, r => Assert.Equal(all[r.Item.Index], r.Score));
        // keeping validation items in the pool: the user's validation item competes (and no training item ever does)
        var kept = m.Recommend(user, m.Split.NumItems, excludeValidation: false);
        Assert.Equal(m.Split.NumItems - m.Split.Train.CountOf(u), kept.Count);
        Assert.Contains(kept, r => r.HeldOut == "validation" && m.Split.Validation.Contains(u, r.Item.Index));
        Assert.Contains(kept, r => r.HeldOut == "test" && m.Split.Test.Contains(u, r.Item.Index));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void ExplainsQuantitiesAreTheModelsAttentionSumsToOneAndTheDistanceIsTheScore(string engine)
    {
        using var m = TrainedModel.Load(RunOf(engine), runs.Context);
        var rel = (IRelationalModel)m.Model;
        var w = rel.ExportParameters();
        int d = rel.Dim, n = rel.Slots;
        foreach (var (user, item) in new[] { ("user-0", "item-0"), ("user-7", "item-42"), ("user-999", "item-499") })
        {
            var e = m.Explain(user, item);
            float[] p = e.P!, q = e.Q!, a = e.A!;
            Assert.Equal(1.0, a.Sum(v => (double)v), 5);
            // score = −D, and D = sqrt(‖p + r − q‖² + ε) (the default sqrt-l2 distance, ε = 0.001)
            Assert.Equal(-(double)e.Score, e.Distance!.Value, 10);
            Assert.Equal(e.Distance.Value, Math.Sqrt(e.ResidualNorm * e.ResidualNorm + 0.001), 5);
            // the pieces, by hand from the exported K and M: s = p ⊙ q, a = softmax(s·K), r = a·M, residual = p + r − q
            var logits = new double[n];
            for (int k = 0; k < n; k++) for (int j = 0; j < d; j++) logits[k] += (double)p[j] * q[j] * w.K[j * n + k];
            double max = logits.Max(), z = logits.Sum(l => Math.Exp(l - max));
            for (int k = 0; k < n; k++) Assert.Equal(Math.Exp(logits[k] - max) / z, a[k], 5);
            for (int j = 0; j < d; j++)
            {
                Assert.Equal(p[j] * q[j], e.S![j], 6);
                double r = 0;
                for (int k = 0; k < n; k++) r += a[k] * w.M[k * d + j];
                Assert.Equal(r, e.R![j], 5);
                Assert.Equal(p[j] + e.R[j] - q[j], e.Residual![j], 6);
            }
            Assert.Equal(a.Max(), e.DominantWeight);
            Assert.Equal(Array.IndexOf(a, a.Max()), e.DominantSlot);
            double h = -a.Where(v => v > 0).Sum(v => v * Math.Log(v));
            Assert.Equal(h / Math.Log(n), e.EntropyRatio, 5);
        }
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void ExplainsScoreIsTheEvaluatorsAndTheTopRecommendationsScore(string engine)
    {
        using var m = TrainedModel.Load(RunOf(engine), runs.Context);
        foreach (string user in new[] { "user-1", "user-500" })
        {
            var recs = m.Recommend(user, 3);
            foreach (var r in recs)
            {
                var e = m.Explain(user, r.Item.Id);
                Assert.Equal(r.Score, e.Score, 5);                 // ScoreAllItems (full ranking) vs ScorePairs (sampled ranking)
                Assert.Equal(r.Explanation.Score, e.Score);
                Assert.Equal(r.Explanation.A, e.A);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void ALoadedModelGivesTheRunsTestMetricsExactly(string engine)
    {
        using var m = TrainedModel.Load(RunOf(engine), runs.Context);
        var sampled = Evaluator.Evaluate(m.Model, m.Split, EvalTarget.Test, new EvaluationOptions { Ks = [10], Mode = CandidateMode.Sampled });
        var full = Evaluator.Evaluate(m.Model, m.Split, EvalTarget.Test, new EvaluationOptions { Ks = [10], Mode = CandidateMode.Full });
        Assert.Equal(m.Result!.Metrics["nDCG@10"], sampled.Metrics["nDCG@10"], 12);
        Assert.Equal(m.Result.Metrics["full/nDCG@10"], full.Metrics["nDCG@10"], 12);
        Assert.True(m.Result.Metrics["nDCG@10"] > 0);
    }

    [Fact]
    public void IdsMapBothWaysAndTheInMemoryConstructorAgreesWithTheLoadedRun()
    {
        using var m = TrainedModel.Load(runs.Fused, runs.Context);
        Assert.Equal(37, m.UserIndex(m.Users[37]));
        Assert.Equal(12, m.ItemIndex(m.Items[12]));
        Assert.Equal("item-12", m.Item(m.ItemIndex("item-12")).Id);
        Assert.Null(m.Item(0).Title);                               // synthetic titles are the ids: no title shown
        Assert.Equal(m.Split.Train.CountOf(m.UserIndex("user-3")), m.History("user-3").Count);
        var byIndex = m.Explain(m.UserIndex("user-3"), m.ItemIndex("item-9"));
        Assert.Equal(m.Explain("user-3", "item-9").A, byIndex.A);
        var wrapped = new TrainedModel(m.Model, m.Split, m.Data, seed: 4);
        Assert.Equal(m.Recommend("user-3", 5).Select(r => (r.Item.Id, r.Score)), wrapped.Recommend("user-3", 5).Select(r => (r.Item.Id, r.Score)));
        Assert.Equal(m.Recommend("user-3", 5)[0].Explanation.SlotShare, wrapped.Recommend("user-3", 5)[0].Explanation.SlotShare);
        Assert.Null(wrapped.Result);
    }

    [Fact]
    public void APeakedAttentionIsExplainedBySlotAndTheSharedItemsReallyPeakThere()
    {
        using var m = TrainedModel.Load(runs.Peaked, runs.Context);
        const string user = "user-11";
        var recs = m.Recommend(user, 10);
        var sharp = recs.Where(r => !r.Explanation.NearUniform).ToList();
        Assert.NotEmpty(sharp);
        foreach (var r in sharp)
        {
            var e = r.Explanation;
            Assert.True(e.EntropyRatio < TrainedModel.NearUniformEntropyRatio);
            Assert.Contains($"slot {e.DominantSlot}", e.Summary);
            // the count and examples, checked pair by pair through Explain
            var history = m.History(user);
            int peaking = history.Count(h => h.Index != r.Item.Index && m.Explain(m.UserIndex(user), h.Index).DominantSlot == e.DominantSlot);
            Assert.Equal(peaking, e.SharedSlotCount);
            Assert.Equal(Math.Min(TrainedModel.SharedSlotExamples, peaking), e.SharedSlot.Count);
            foreach (var s in e.SharedSlot)
            {
                var pair = m.Explain(m.UserIndex(user), s.Item.Index);
                Assert.Equal(e.DominantSlot, pair.DominantSlot);
                Assert.Equal(pair.A![e.DominantSlot], s.Weight);
            }
            Assert.InRange(e.SlotShare, 1e-9, 1.0);
        }
        // the slot shares of all slots are a distribution over the training pairs
        var slots = Enumerable.Range(0, 4).Select(k => recs.FirstOrDefault(r => r.Explanation.DominantSlot == k)?.Explanation.SlotShare).ToList();
        Assert.All(slots.Where(s => s is not null), s => Assert.InRange(s!.Value, 0.0, 1.0));
    }

    [Fact]
    public void ANearUniformAttentionSaysThatNoSlotExplainsThePair()
    {
        using var m = TrainedModel.Load(runs.Fused, runs.Context);   // 2 epochs at the default scales: the memory is unused
        var e = m.Explain("user-5", "item-5");
        Assert.True(e.NearUniform);
        Assert.True(e.EntropyRatio >= TrainedModel.NearUniformEntropyRatio);
        Assert.Contains("near uniform", e.Summary);
        Assert.Contains("says nothing", e.Summary);
    }

    [Fact]
    public void AModelWithoutMemoryGivesItsScoreAndItsDistance()
    {
        using var m = TrainedModel.Load(runs.Cml, runs.Context);
        Assert.False(m.IsRelational);
        var recs = m.Recommend("user-2", 5);
        Assert.Equal(5, recs.Count);
        var e = m.Explain("user-2", recs[0].Item.Id);
        Assert.Null(e.A);
        Assert.Null(e.P);
        Assert.Equal(-1, e.DominantSlot);
        Assert.Equal(-(double)e.Score, e.Distance!.Value, 10);
        Assert.Equal(recs[0].Score, e.Score, 5);
        Assert.Contains("‖p − q‖²", e.DistanceFormula);
    }

    [Fact]
    public void BadInputIsAClearError()
    {
        using (var m = TrainedModel.Load(runs.Fused, runs.Context))
        {
            Assert.Contains("Unknown user 'nobody'", Assert.Throws<ArgumentException>(() => m.Recommend("nobody")).Message);
            Assert.Contains("user-0", Assert.Throws<ArgumentException>(() => m.Explain("nobody", "item-1")).Message);
            Assert.Contains("Unknown item 'item-9999'", Assert.Throws<ArgumentException>(() => m.Explain("user-1", "item-9999")).Message);
            Assert.Throws<ArgumentException>(() => m.Recommend("user-1", 0));
        }
        var noBest = runs.CopyWithout(runs.Fused, "best.ckpt");
        var ex = Assert.Throws<FileNotFoundException>(() => TrainedModel.Load(noBest, runs.Context));
        Assert.Contains("best.ckpt", ex.Message);
        Assert.Contains("no result.json", Assert.Throws<FileNotFoundException>(() => TrainedModel.Load(runs.CopyWithout(runs.Fused, "result.json"), runs.Context)).Message);
        Assert.Throws<DirectoryNotFoundException>(() => TrainedModel.Load(Path.Combine(runs.Root, "nowhere"), runs.Context));

        // another engine's state in best.ckpt: refused, naming the file
        var swapped = runs.CopyWithout(runs.Fused);
        File.Copy(Path.Combine(runs.Torch, "best.ckpt"), Path.Combine(swapped, "best.ckpt"), overwrite: true);
        var bad = Assert.Throws<InvalidDataException>(() => TrainedModel.Load(swapped, runs.Context));
        Assert.Contains(Path.Combine(swapped, "best.ckpt"), bad.Message);

        // data whose checksum differs from the one recorded in result.json
        var changed = runs.CopyWithout(runs.Fused);
        var path = Path.Combine(changed, "result.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json["dataset_provenance"]!["sha256"] = new string('0', 64);
        File.WriteAllText(path, json.ToJsonString());
        var checksum = Assert.Throws<InvalidDataException>(() => TrainedModel.Load(changed, runs.Context));
        Assert.Contains("SHA-256", checksum.Message);
        Assert.Contains("000000000000", checksum.Message);
    }

    [Fact]
    public void TheCommandLineRecommendsExplainsAndRefusesBadInputWithExitCode2()
    {
        string[] Common(params string[] args) => [.. args, "--data-dir", Path.Combine(runs.Root, "no-data"), "--results", runs.Root, "--threads", "1"];
        var (code, output) = LrmlProcess.Run(Common("recommend", "--run", runs.Peaked, "--user", "user-11", "--k", "4"));
        Assert.True(code == 0, output);
        Assert.Contains("LRML top 4 for user user-11", output);
        Assert.Contains("slot (a)", output);
        using (var m = TrainedModel.Load(runs.Peaked, runs.Context))
            foreach (var r in m.Recommend("user-11", 4)) Assert.Contains(r.Item.Id, output);

        (code, output) = LrmlProcess.Run(Common("explain", "--run", runs.Torch, "--user", "user-3", "--item", "item-9"));
        Assert.True(code == 0, output);
        foreach (var s in new[] { "p ", "q ", "s = p ⊙ q", "a = softmax(s·K)", "r = a·M", "‖p + r − q‖", "distance D", "sum 1.000000", "(8)", "(4)" })
            Assert.Contains(s, output);

        (code, output) = LrmlProcess.Run(Common("recommend", "--run", runs.Fused, "--user", "nobody"));
        Assert.Equal(2, code);
        Assert.Contains("Unknown user 'nobody'", output);
        (code, output) = LrmlProcess.Run(Common("explain", "--run", runs.Cml, "--user", "user-1", "--item", "item-1"));
        Assert.Equal(2, code);
        Assert.Contains("trained CML, which has none", output);
    }
}

/// <summary>Titles of MovieLens-100K (u.item) on a one-epoch run; skipped without the data.</summary>
public sealed class TrainedModelMovieLensTests
{
    [Fact]
    public void RecommendationsOfAnMl100kRunCarryTheirTitles()
    {
        var data = DataDirectory.Resolve(null);
        if (Datasets.Locate("ml-100k", data) is null) Assert.Skip($"ml-100k not found under the data root ({data.Root}).");
        string root = Directory.CreateTempSubdirectory("lrml-infer-ml").FullName;
        try
        {
            var ctx = new ExperimentContext { Data = data, ResultsRoot = root };
            string dir = Path.Combine(root, "run");
            Experiment.Run(new RunSpec
            {
                Dataset = "ml-100k", Model = "lrml", Settings = ConfigBinder.ParsePairs(["dim=8", "slots=3"]),
                Train = new TrainConfig { Epochs = 1, Seed = 1, Threads = 1 }, FullRanking = false,
            }, ctx, dir);
            using var m = TrainedModel.Load(dir, ctx);
            Assert.Equal("Star Wars (1977)", m.Item(m.ItemIndex("50")).Title);
            var recs = m.Recommend("196", 10);
            Assert.All(recs, r => Assert.False(string.IsNullOrEmpty(r.Item.Title)));
            Assert.All(recs, r => Assert.Equal(m.Data.Catalog!.TitleOf(r.Item.Id), r.Item.Title));
            Assert.Equal(m.Split.Train.CountOf(m.UserIndex("196")), recs[0].Explanation.HistoryCount);
        }
        finally { Directory.Delete(root, recursive: true); }
    }
}
