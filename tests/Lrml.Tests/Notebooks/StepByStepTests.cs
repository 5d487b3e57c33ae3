using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Evaluation;
using Lrml.Models;
using Lrml.Notebooks;
using Lrml.Protocols;
using Lrml.Reproduction;
using Lrml.Training;

namespace Lrml.Tests.Notebooks;

/// <summary>The helpers of the step-by-step notebook (00b): the walkthrough's numbers are the model's, the live chart, the
/// explained recommendations and the paired comparison.</summary>
public class StepByStepTests
{
    private static UserItems Train() => UserItems.FromPairs(4, 9,
        new[] { 0, 0, 0, 1, 1, 2, 2, 2, 3, 3 }, new[] { 0, 1, 2, 2, 3, 4, 5, 6, 7, 8 });

    [Theory]
    [InlineData(LrmlDistance.SqrtL2, NegativeRelation.Reuse, NormConstraint.Clip, 1f)]
    [InlineData(LrmlDistance.SquaredL2, NegativeRelation.Recompute, NormConstraint.None, 0.1f)]
    [InlineData(LrmlDistance.L1, NegativeRelation.Reuse, NormConstraint.Project, 1f)]
    public void Walkthrough_IsTheModelsForwardPass_AndItsGradientsAreTheModels(LrmlDistance distance, NegativeRelation negative, NormConstraint norm, float tau)
    {
        // init_scale 1 so that the clip is active for some rows
        var config = new LrmlConfig { Dim = 5, Slots = 4, Distance = distance, NegativeRelation = negative, NormConstraint = norm,
            AttentionTemperature = tau, InitScale = 1f, Margin = 3f };
        using var model = new LrmlModel(config, 4, 9, seed: 7);
        int[] users = [0, 1, 3], items = [1, 3, 7], negatives = [5, 0, 2];
        var walk = LrmlWalkthrough.Compute(model, users, items, negatives);
        walk.Check();                                                     // Σa = 1, a = Explain, D = −score
        Assert.All(walk.AttentionSums(), s => Assert.Equal(1, s, 5));
        Assert.Equal("3 × 5", walk["p"].Shape);
        Assert.Equal("3 × 4", walk["a"].Shape);
        Assert.Equal("5 × 4", walk["dL/dK"].Shape);
        Assert.Equal("4 × 5", walk["dL/dM"].Shape);
        Assert.Equal("3", walk["D"].Shape);
        for (int b = 0; b < 3; b++)
        {
            Assert.Equal(-walk.ModelScores[b], walk["D"].Values[b], 5);
            Assert.Equal(Math.Max(0, 3f + walk["D"].Values[b] - walk["D_neg"].Values[b]), walk["hinge"].Values[b], 5);
        }

        // the model's own gradient of the same batch (one negative each, no L2): TrainStep leaves ∂hinge/∂K and ∂hinge/∂M in .grad
        var batch = new TrainingBatch(3, 1) { Count = 3 };
        users.CopyTo(batch.Users, 0); items.CopyTo(batch.Positives, 0); negatives.CopyTo(batch.Negatives, 0);
        model.TrainStep(batch);
        var gradK = model.K.grad!.data<float>().ToArray();
        var gradM = model.M.grad!.data<float>().ToArray();
        Assert.Equal(gradK.Length, walk["dL/dK"].Values.Length);
        for (int j = 0; j < gradK.Length; j++) Assert.Equal(gradK[j], walk["dL/dK"].Values[j], 4);
        for (int j = 0; j < gradM.Length; j++) Assert.Equal(gradM[j], walk["dL/dM"].Values[j], 4);
        Assert.Contains(walk["dL/dK"].Values, v => v != 0);               // the margin 3 keeps every hinge active
    }

    [Fact]
    public void Walkthrough_WithOneSlot_IsTranslatedCml_ByHand()
    {
        // N = 1: the attention is 1 and r is M's only row; D = √(‖p + M − q‖² + 1e-3) computed here in double
        var config = new LrmlConfig { Dim = 3, Slots = 1, NormConstraint = NormConstraint.None };
        using var model = new LrmlModel(config, 4, 9, seed: 1);
        var prm = model.ExportParameters();
        var walk = LrmlWalkthrough.Compute(model, [2], [4], [0]);
        Assert.Equal(1f, walk["a"].Values[0]);
        double ss = 0;
        for (int k = 0; k < 3; k++)
        {
            double diff = prm.P[2 * 3 + k] + prm.M[k] - prm.Q[4 * 3 + k];
            ss += diff * diff;
            Assert.Equal(prm.M[k], walk["r"].Values[k], 6);
        }
        Assert.Equal(Math.Sqrt(ss + 1e-3), walk["D"].Values[0], 5);
        Assert.Throws<ArgumentException>(() => LrmlWalkthrough.Compute(model, [0, 1], [1], [2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => LrmlWalkthrough.Compute(model, [4], [1], [2]));
        Assert.Contains("softmax", walk.Table().ToHtml());
    }

    [Fact]
    public void LiveTraining_RedrawsAfterEveryEpoch_WithTheMemoryUsage()
    {
        using var model = new LrmlModel(new LrmlConfig { Dim = 4, Slots = 3 }, 4, 9, seed: 2);
        var trainer = new Trainer(new TrainConfig { Epochs = 3, BatchSize = 4, Seed = 1, Threads = 1, EvalEvery = 0 });
        var live = new LiveTraining("LRML");
        var charts = new List<string>();
        live.Attach(trainer, model, Train(), seed: 1, chart => charts.Add(Plotly.NET.GenericChart.toChartHTML(chart)));
        trainer.Fit(model, Train(), null, TestContext.Current.CancellationToken);
        Assert.Equal(3, charts.Count);
        Assert.Equal(3, live.Epochs.Count);
        Assert.True(live.MeasuresMemory);
        Assert.All(live.Epochs, e => Assert.InRange(e.Diagnostics!["attention_entropy_ratio"], 0, 1 + 1e-9));
        Assert.All(charts, c => Assert.Contains(live.LiveMark, c));
        Assert.Contains("LRML: epoch 3", charts[^1]);
        Assert.Contains("attention entropy", charts[^1]);
    }

    [Fact]
    public void DropSupersededLiveOutputs_KeepsTheLastUpdateOfEachLiveValue()
    {
        string mark = NotebookDocument.LiveMarkPrefix + "0123456789ab", other = NotebookDocument.LiveMarkPrefix + "ba9876543210";
        JsonObject Out(string html) => new() { ["output_type"] = "display_data", ["data"] = new JsonObject { ["text/html"] = html }, ["metadata"] = new JsonObject() };
        var nb = new JsonObject
        {
            ["cells"] = new JsonArray(new JsonObject
            {
                ["cell_type"] = "code",
                ["outputs"] = new JsonArray(Out($"epoch 1 {mark}"), Out($"other 1 {other}"), Out($"epoch 2 {mark}"), Out("plain"), Out($"epoch 3 {mark}")),
            }),
        };
        Assert.Equal(2, NotebookDocument.DropSupersededLiveOutputs(nb));
        var left = nb["cells"]![0]!["outputs"]!.AsArray().Select(o => (string)o!["data"]!["text/html"]!).ToArray();
        Assert.Equal([$"other 1 {other}", "plain", $"epoch 3 {mark}"], left);
    }

    private static (Interactions Data, Split Split) Tiny()
    {
        int[] u = [0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 0, 1, 2, 3];
        int[] i = [0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 3, 5, 7, 0];
        var users = new IdMap(["u0", "u1", "u2", "u3"]);
        var items = new IdMap(Enumerable.Range(0, 9).Select(k => $"m{k}"));
        var catalog = new ItemCatalog([]);
        for (int k = 0; k < 9; k++) catalog.Add(new ItemInfo($"m{k}", $"Movie {k}", []));
        var data = new Interactions("tiny", u, i, null, null, users, items, catalog);
        var train = UserItems.FromPairs(4, 9, u.AsSpan(0, 10), i.AsSpan(0, 10));
        var test = UserItems.FromPairs(4, 9, u.AsSpan(10), i.AsSpan(10));
        var split = new Split { Dataset = "tiny", Protocol = "hand", Train = train, Validation = UserItems.Empty(4, 9), Test = test, UserIds = users, ItemIds = items };
        return (data, split);
    }

    [Fact]
    public void TopK_RanksTheUntrainedItemsByScore_AndExplainsEachWithItsDominantSlot()
    {
        var (data, split) = Tiny();
        using var model = new LrmlModel(new LrmlConfig { Dim = 4, Slots = 3, InitScale = 1f }, 4, 9, seed: 5);
        var recs = Recommendations.TopK(model, split, data, "u0", k: 4);
        Assert.Equal(4, recs.Count);
        var scores = new float[9];
        model.ScoreAllItems([0], scores);
        var expected = Enumerable.Range(0, 9).Where(i => i > 2).OrderByDescending(i => scores[i]).ThenBy(i => i).Take(4).Select(i => $"m{i}").ToArray();
        Assert.Equal(expected, recs.Select(r => r.Item).ToArray());       // u0 trained on m0..m2
        Assert.Equal(recs.Select(r => r.Title), recs.Select(r => "Movie " + r.Item[1..]));
        Assert.Equal("test", recs.Single(r => r.Item == "m3").HeldOut);

        // brute force: the dominant slot of every training pair
        var (pu, pi) = split.Train.ToPairs();
        var a = new float[pu.Length * 3];
        model.Explain(pu, pi, a, new float[pu.Length * 4]);
        int Dom(ReadOnlySpan<float> row) { int b = 0; for (int j = 1; j < row.Length; j++) if (row[j] > row[b]) b = j; return b + 1; }
        var dominant = Enumerable.Range(0, pu.Length).Select(p => Dom(a.AsSpan(p * 3, 3))).ToArray();
        foreach (var r in recs)
        {
            Assert.Equal(1, r.Attention.Sum(), 5);
            Assert.Equal(Dom(r.Attention.ToArray()), r.DominantSlot);
            Assert.Equal(dominant.Count(d => d == r.DominantSlot), r.PairsSharingSlot);
            var mine = Enumerable.Range(0, pu.Length).Where(p => pu[p] == 0 && dominant[p] == r.DominantSlot).Select(p => $"Movie {pi[p]}");
            Assert.Equal(mine, r.HistorySharingSlot);
        }
        Assert.Contains("Movie", Recommendations.Table(recs).ToHtml());
        Assert.Throws<ArgumentException>(() => Recommendations.TopK(model, split, data, "nobody"));
    }

    [Fact]
    public void Compare_IsThePairedTTestOverTheCommonUsers()
    {
        // users 7 and 9 are in both; user 8 only in a: differences over (1, 2, 3, 5, 7, 9): a − b = 1, 0, 0, 1, 0, 1
        EvaluationResult Eval(string name, int[] users, double[] values) => new()
        {
            ModelName = name, MetricNames = ["HR@10"], Metrics = new Dictionary<string, double> { ["HR@10"] = values.Average() },
            Users = users, PerUser = new Dictionary<string, double[]> { ["HR@10"] = values },
        };
        var a = Eval("A", [1, 2, 3, 5, 7, 8, 9], [1, 0, 1, 1, 0, 1, 1]);
        var b = Eval("B", [9, 7, 5, 3, 2, 1], [0, 0, 0, 1, 0, 0]);
        var row = Recommendations.Compare(a, b, "HR@10").Rows.Single();
        // mean d = 0.5, sd = √(6·0.25/5) = 0.5477, t = 0.5 / (0.5477/√6) = 2.2361 (df 5)
        Assert.Equal("6", row[1]);
        Assert.Equal("0.5", row[4]);
        Assert.Equal("2.2361", row[5]);
        Assert.Equal("0.0756", row[6]);   // two-sided Student t p-value, 5 degrees of freedom
    }

    [Fact]
    public void AblationGrid_TrainsTheGridOnly_ReusesTheStudysRuns_AndWritesNoStudyFile()
    {
        string root = Directory.CreateTempSubdirectory("lrml-abl-grid").FullName;
        try
        {
            var ctx = new Lrml.Experiments.ExperimentContext { Data = new DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root };
            var options = new AblationOptions { Profile = Profile.Quick with { MaxEpochs = 1 }, Dataset = "synthetic", Seeds = 1, Threads = 1, ChartImages = false };
            Assert.Throws<ArgumentException>(() => Ablations.RunGrid("nope", new[] { 1 }, options, ctx));
            Assert.Throws<ArgumentException>(() => Ablations.RunGrid("slots", Array.Empty<int>(), options, ctx));
            Assert.Throws<ArgumentException>(() => Ablations.RunGrid("slots", new[] { 0 }, options, ctx));
            Assert.Throws<ArgumentException>(() => Ablations.RunGrid("used-memory", new[] { "tau-9" }, options, ctx));

            var grid = Ablations.RunGrid("memory", new[] { false }, options, ctx);
            Assert.Equal(["false", "true"], grid.Runs.Select(r => ((JsonObject)r.Result.Config["model"]!)["train_memory"]!.ToJsonString()).OrderBy(s => s));
            string outDir = Ablations.OutputDirectory(options, ctx);
            Assert.False(File.Exists(Path.Combine(outDir, "memory.csv")));
            Assert.Equal(2, grid.Table.Rows.Count);                         // the value, and the preset's own (true)
            var frozen = grid.Runs.Single(r => r.Directory.Contains("false-seed1", StringComparison.Ordinal));
            var stamp = File.GetLastWriteTimeUtc(Path.Combine(frozen.Directory, "result.json"));

            var study = Ablations.Run(options with { Only = ["memory"] }, ctx);   // reuses both runs
            Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(frozen.Directory, "result.json")));
            Assert.True(File.Exists(Path.Combine(outDir, "memory.csv")));
            Assert.Equal(grid.Table.Rows.Count, study.Results.Single().Table.Rows.Count);
        }
        finally { Directory.Delete(root, recursive: true); }
    }
}
