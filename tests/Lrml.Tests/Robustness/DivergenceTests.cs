using System.Diagnostics;
using System.Text.Json.Nodes;
using Lrml.Experiments;
using Lrml.Models;
using Lrml.Fast;
using Lrml.Protocols;
using Lrml.Training;

namespace Lrml.Tests.Robustness;

/// <summary>
/// Numerical faults: a NaN/∞ in the loss, in the parameters or in validation scores stops training with a message
/// naming the epoch and step and the likely cause, and no checkpoint ever holds a non-finite state.
/// </summary>
public class DivergenceTests
{
    /// <summary>A model whose parameters turn non-finite after a given step while its loss stays finite (the loss of
    /// a step is computed before its update, so only a parameter check can see it).</summary>
    private sealed class BreaksAfter(int users, int items, int breakAtStep) : ITrainableRecommender
    {
        public int Steps;
        public bool Finite = true;
        public string Name => "breaks";
        public int NumUsers => users;
        public int NumItems => items;
        public void ScorePairs(ReadOnlySpan<int> u, ReadOnlySpan<int> i, Span<float> s) => s.Fill(Finite ? Steps : float.NaN);
        public void ScoreAllItems(ReadOnlySpan<int> u, Span<float> s) => s.Fill(Finite ? Steps : float.NaN);
        public double TrainStep(TrainingBatch b) { Steps++; if (Steps == breakAtStep) Finite = false; return 1.0; }
        public byte[] SaveState() => [.. BitConverter.GetBytes(Steps), Finite ? (byte)1 : (byte)0];
        public void LoadState(byte[] s) { Steps = BitConverter.ToInt32(s); Finite = s[4] == 1; }
        public bool ParametersAreFinite() => Finite;
        public IReadOnlyDictionary<string, object?> Describe() => new Dictionary<string, object?>();
        public void Dispose() { }
    }

    private static UserItems Train() =>
        UserItems.FromPairs(4, 10, [0, 0, 1, 1, 1, 2, 3, 3, 3, 3], [1, 2, 0, 4, 9, 5, 6, 7, 8, 2]);

    /// <remarks>Issue 11 case 8: with checks at epoch ends only, the message used to name the step that noticed (the
    /// epoch's last, "step 96 of 96" for learning_rate=Infinity) instead of the step that broke the parameters; the
    /// trainer now replays the epoch from its last good state to find it.</remarks>
    [Theory]
    [InlineData(0, 2, 3)]     // end-of-epoch checks only: noticed after step 4 of epoch 2, replayed to the breaking step 3
    [InlineData(1, 2, 3)]     // a checkpoint after every step: the first checkpoint after the break is refused
    public void NonFiniteParametersStopTrainingBeforeAnyCheckpointOrValidationSeesThem(int checkpointEvery, int epoch, int step)
    {
        // 10 positives, batch 3 → 4 steps per epoch; the parameters break in step 7 (epoch 2, step 3)
        var model = new BreaksAfter(4, 10, breakAtStep: 7);
        var trainer = new Trainer(new TrainConfig { Epochs = 5, BatchSize = 3, Seed = 1, Threads = 1, Patience = 0 }) { CheckpointEverySteps = checkpointEvery };
        var saved = new List<TrainerCheckpoint>();
        var bests = new List<byte[]>();
        trainer.Checkpoint += saved.Add;
        trainer.NewBest += (_, s) => bests.Add(s);
        int validations = 0;
        var ex = Assert.Throws<TrainingDivergedException>(() => trainer.Fit(model, Train(), m =>
        {
            validations++;
            return new Dictionary<string, double> { ["nDCG@10"] = validations };
        }, TestContext.Current.CancellationToken));
        Assert.Equal(epoch, ex.Epoch);
        Assert.Equal(step, ex.Step);
        Assert.Contains($"epoch {epoch}, step {step} of 4", ex.Message);
        if (checkpointEvery == 0) Assert.Contains($"epoch {epoch}, step {step} of 4 (noticed after step 4)", ex.Message);
        Assert.Contains("NaN or infinite", ex.Message);
        Assert.Contains("learning rate", ex.Message);
        Assert.Contains("margin", ex.Message);
        Assert.NotEmpty(saved);
        Assert.All(saved, ck => Assert.Equal(1, ck.ModelState[4]));          // every checkpoint holds finite parameters
        Assert.All(bests, b => Assert.Equal(1, b[4]));
        Assert.Equal(1, validations);                                          // epoch 2 was never validated
        Assert.True(model.Finite, "the model is reset to the best (finite) state");
        Assert.Equal(4, model.Steps);
    }

    [Fact]
    public void NaNValidationScoresAreADivergenceNotACrash()
    {
        // parameters claim to be finite but the scores are NaN (overflowing intermediate values)
        var split = new Split
        {
            Dataset = "t", Protocol = "t", Train = Train(), Validation = UserItems.FromPairs(4, 10, [0], [3]),
            Test = UserItems.Empty(4, 10), ValidationNegatives = UserItems.FromPairs(4, 10, [0, 0], [5, 6]),
        };
        var model = new BreaksAfter(4, 10, breakAtStep: 2) { };
        var liar = new LyingModel(model);
        var trainer = new Trainer(new TrainConfig { Epochs = 3, BatchSize = 3, Seed = 1, Threads = 1 });
        var ex = Assert.Throws<TrainingDivergedException>(() => trainer.Fit(liar, split.Train,
            m => Lrml.Evaluation.Evaluator.Evaluate(m, split, Lrml.Protocols.EvalTarget.Validation,
                new Lrml.Evaluation.EvaluationOptions { Mode = Lrml.Evaluation.CandidateMode.Sampled }).Metrics, TestContext.Current.CancellationToken));
        Assert.Equal(1, ex.Epoch);
        Assert.Contains("NaN in validation", ex.Message);
    }

    private sealed class LyingModel(BreaksAfter inner) : ITrainableRecommender
    {
        public string Name => inner.Name;
        public int NumUsers => inner.NumUsers;
        public int NumItems => inner.NumItems;
        public void ScorePairs(ReadOnlySpan<int> u, ReadOnlySpan<int> i, Span<float> s) => inner.ScorePairs(u, i, s);
        public void ScoreAllItems(ReadOnlySpan<int> u, Span<float> s) => inner.ScoreAllItems(u, s);
        public double TrainStep(TrainingBatch b) => inner.TrainStep(b);
        public byte[] SaveState() => inner.SaveState();
        public void LoadState(byte[] s) => inner.LoadState(s);
        public IReadOnlyDictionary<string, object?> Describe() => inner.Describe();
        public void Dispose() { }
    }

    public static TheoryData<string> ModelNames() => ["lrml-torch", "lrml-fused", "cml", "bpr", "gmf", "mlp", "neumf", "transcf"];

    private static ITrainableRecommender Build(string name, bool poisoned)
    {
        const int users = 5, items = 7, dim = 4;
        float[] Rows(int n) { var a = new float[n * dim]; for (int k = 0; k < a.Length; k++) a[k] = 0.01f * (k % 13); if (poisoned) a[^1] = float.NaN; return a; }
        var train = UserItems.FromPairs(users, items, [0, 1, 2, 3, 4], [0, 1, 2, 3, 4]);
        switch (name)
        {
            case "lrml-torch":
            case "lrml-fused":
            {
                var cfg = new LrmlConfig { Dim = dim, Slots = 2 };
                var init = LrmlParameters.Initialize(cfg, users, items, 1);
                if (poisoned) init.M[^1] = float.PositiveInfinity;
                return name == "lrml-torch" ? new LrmlModel(cfg, init) : new LrmlFused(cfg, init, new FusedOptions { Threads = 1 });
            }
            case "cml": return new CmlModel(new CmlConfig { Dim = dim }, users, items, Rows(users), Rows(items));
            case "bpr": return new BprMfModel(new BprConfig { Dim = dim }, users, items, Rows(users), Rows(items), null);
            case "transcf": return new TransCfModel(new TransCfConfig { Dim = dim }, train, Rows(users), Rows(items));
            default:
            {
                int[] layers = [2 * dim, dim];
                var w = NcfWeights.Init(users, items, name == "mlp" ? 0 : dim, name == "gmf" ? null : layers, 1);
                if (poisoned) w.H[0] = float.NaN;
                return name switch
                {
                    "gmf" => new GmfModel(new GmfConfig { Dim = dim }, w),
                    "mlp" => new MlpModel(new MlpConfig { Layers = layers }, w),
                    _ => new NeuMfModel(new NeuMfConfig { Dim = dim, Layers = layers }, w),
                };
            }
        }
    }

    [Theory]
    [MemberData(nameof(ModelNames))]
    public void EveryTrainableModelReportsNonFiniteParameters(string name)
    {
        using (var clean = Build(name, poisoned: false)) Assert.True(clean.ParametersAreFinite(), $"{name}: clean parameters reported non-finite");
        using var bad = Build(name, poisoned: true);
        Assert.False(bad.ParametersAreFinite(), $"{name}: a NaN/∞ parameter was not reported");
    }

    /// <summary>End to end: `lrml train` of BPR with SGD at learning rate 1 on synthetic data blows up; the CLI prints one
    /// error line naming the epoch and step (no stack trace), exits 1, writes no result.json, and the checkpoint on disk
    /// is a state from before the divergence with finite parameters.</summary>
    [Fact]
    public void CliDivergenceLeavesTheLastGoodCheckpoint()
    {
        string root = Directory.CreateTempSubdirectory("lrml-diverge").FullName;
        string run = Path.Combine(root, "run");
        var (code, stdout, stderr) = CliRunner.Run(root, "train", "--dataset", "synthetic", "--model", "bpr", "--engine", "torch", "--set", "optimizer=sgd", "--lr", "1",
            "--set", "dim=16", "--epochs", "6", "--seed", "4", "--batch-size", "256", "--no-full-ranking", "--checkpoint-every", "20", "--out", run);
        Assert.Equal(1, code);
        var error = CliRunner.SingleErrorLine(stdout, stderr);
        var m = System.Text.RegularExpressions.Regex.Match(error, @"at epoch (\d+), step (\d+) of (\d+)");
        Assert.True(m.Success, error);
        int epoch = int.Parse(m.Groups[1].Value), step = int.Parse(m.Groups[2].Value);
        Assert.Contains("learning rate", error);
        Assert.False(File.Exists(Path.Combine(run, "result.json")));
        Assert.Empty(OsFaults.TempFiles(run));

        string ckPath = Path.Combine(run, Experiment.CheckpointFile);
        if (epoch == 1 && step <= 20) { Assert.False(File.Exists(ckPath)); return; }    // diverged before the first checkpoint
        var ck = TrainerCheckpoint.FromBytes(File.ReadAllBytes(ckPath), ckPath);
        Assert.True((ck.Epoch, ck.Step).CompareTo((epoch, step)) < 0, $"checkpoint at epoch {ck.Epoch} step {ck.Step} is not before the divergence");
        var config = System.Text.Json.JsonSerializer.Deserialize<BprConfig>(
            JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!["model"]!, ConfigBinder.Json)!;
        Assert.Equal(OptimizerKind.Sgd, config.Optimizer);
        using var model = new BprMfModel(config, 1000, 500, 4);
        model.LoadState(ck.ModelState);
        Assert.True(model.ParametersAreFinite());
        if (ck.BestState is not null)
        {
            model.LoadState(ck.BestState);
            Assert.True(model.ParametersAreFinite());
            model.LoadState(File.ReadAllBytes(Path.Combine(run, "best.ckpt")));
            Assert.True(model.ParametersAreFinite());
        }
    }
}

/// <summary>Runs the lrml CLI that is built next to the tests.</summary>
internal static class CliRunner
{
    public static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "Lrml.Cli.dll");

    /// <summary>Runs `lrml --data-dir &lt;none&gt; --results <paramref name="results"/> --threads 1 <paramref name="args"/>`.</summary>
    public static (int Code, string Stdout, string Stderr) Run(string results, params string[] args)
    {
        Assert.True(File.Exists(Cli), $"CLI not found next to the tests: {Cli}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Cli, "--data-dir", Path.Combine(results, "no-data"), "--results", results, "--threads", "1" }.Concat(args))
            psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(180_000)) { p.Kill(true); throw new TimeoutException("lrml did not finish in 3 minutes"); }
        return (p.ExitCode, o.Result, e.Result);
    }

    /// <summary>The one "error: …" line; fails on a stack trace or an unhandled-exception report.</summary>
    public static string SingleErrorLine(string stdout, string stderr)
    {
        string all = stdout + stderr;
        Assert.DoesNotContain("Unhandled exception", all);
        Assert.DoesNotContain("   at ", all);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var error = Assert.Single(lines);
        Assert.StartsWith("error: ", error);
        return error;
    }
}
