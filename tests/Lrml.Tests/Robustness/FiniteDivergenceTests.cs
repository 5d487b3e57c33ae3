using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Training;

namespace Lrml.Tests.Robustness;

/// <summary>
/// Issue 11, case 8: divergence that never becomes NaN. A loss that rises far above its level at the first step, or a
/// parameter that explodes while staying finite, stops training with a message naming the first bad step
/// (<see cref="DivergenceRules"/>); a run that finishes no better than popularity says so in result.json and in a printed
/// warning.
/// </summary>
public class FiniteDivergenceTests
{
    /// <summary>A model whose per-positive loss and largest |parameter| follow given functions of the global step (1-based,
    /// counted by TrainStep; its state is the step count, so a replay from a saved state repeats the same values).</summary>
    private sealed class Scripted(Func<int, double> lossPerPositive, Func<int, double> maxAbs) : ITrainableRecommender
    {
        public int Steps;
        public string Name => "scripted";
        public int NumUsers => 4;
        public int NumItems => 10;
        public void ScorePairs(ReadOnlySpan<int> u, ReadOnlySpan<int> i, Span<float> s) => s.Fill(0);
        public void ScoreAllItems(ReadOnlySpan<int> u, Span<float> s) => s.Fill(0);
        public double TrainStep(TrainingBatch b) { double l = lossPerPositive(Steps + 1) * b.Count; Steps++; return l; }
        public byte[] SaveState() => BitConverter.GetBytes(Steps);
        public void LoadState(byte[] s) => Steps = BitConverter.ToInt32(s);
        public double MaxAbsParameter() => maxAbs(Steps);
        public IReadOnlyDictionary<string, object?> Describe() => new Dictionary<string, object?>();
        public void Dispose() { }
    }

    // 10 positives, batch 3 → 4 steps per epoch (3, 3, 3, 1 positives)
    private static UserItems Train() => UserItems.FromPairs(4, 10, [0, 0, 1, 1, 1, 2, 3, 3, 3, 3], [1, 2, 0, 4, 9, 5, 6, 7, 8, 2]);

    private static Trainer NewTrainer(int epochs = 4) => new(new TrainConfig { Epochs = epochs, BatchSize = 3, Seed = 1, Threads = 1, Patience = 0 });

    [Fact]
    public void ALossFarAboveItsFirstStepStopsAtTheFirstStepAboveTheBound()
    {
        // first step 0.5 per positive → bound 1000 × 0.5 = 500; from global step 6 (epoch 2, step 2) the loss is 1e6
        var model = new Scripted(s => s < 6 ? 0.5 : 1e6, _ => 0.1);
        var ex = Assert.Throws<TrainingDivergedException>(() => NewTrainer().Fit(model, Train(), null, TestContext.Current.CancellationToken));
        Assert.Equal((2, 2), (ex.Epoch, ex.Step));
        Assert.StartsWith("The loss per training positive rose above 500 (1,000 × max(0.5, 0.1), its level at the first step) " +
                          "at epoch 2, step 2 of 4 and averaged 700000.15 over the epoch: training stopped.", ex.Message);
        Assert.Contains("learning rate", ex.Message);
    }

    [Fact]
    public void ANoisyBatchAboveTheBoundDoesNotStopARunWhoseEpochMeanStaysBelow()
    {
        // step 6 alone at 1,500 per positive (3 positives): epoch 2's mean is (3·1 + 3·1500 + 4·1)/10 = 450.7 < 1000
        var model = new Scripted(s => s == 6 ? 1500 : 1, _ => 0.1);
        var outcome = NewTrainer().Fit(model, Train(), null, TestContext.Current.CancellationToken);
        Assert.Equal(4, outcome.Epochs.Count);
        Assert.Equal(450.7, outcome.Epochs[1].MeanLoss, 9);
    }

    [Fact]
    public void ALossThatStartsNearZeroIsMeasuredAgainstTheFloor()
    {
        // first step 1e-6 per positive: the bound is 1000 × 0.1 = 100, so a rise to 50 is a normal run, not a divergence
        var model = new Scripted(s => s == 1 ? 1e-6 : 50, _ => 0.1);
        Assert.Equal(4, NewTrainer().Fit(model, Train(), null, TestContext.Current.CancellationToken).Epochs.Count);
    }

    [Theory]
    [InlineData(0)]   // checks at epoch ends only: found by replaying epoch 2
    [InlineData(1)]   // a checkpoint after every step
    public void ExplodingParametersAreReportedAtTheStepThatExplodedThem(int checkpointEvery)
    {
        // the largest |parameter| starts at 0.5 (bound 10,000 × max(1, 0.5) = 10,000) and is 2e5 after global step 7
        var model = new Scripted(_ => 1, steps => steps >= 7 ? 2e5 : 0.5);
        var trainer = NewTrainer();
        trainer.CheckpointEverySteps = checkpointEvery;
        var saved = new List<TrainerCheckpoint>();
        trainer.Checkpoint += saved.Add;
        var ex = Assert.Throws<TrainingDivergedException>(() => trainer.Fit(model, Train(), null, TestContext.Current.CancellationToken));
        Assert.Equal((2, 3), (ex.Epoch, ex.Step));
        Assert.StartsWith("A model parameter exploded to 200000 (more than 10,000 × max(1, 0.5), its largest magnitude at initialisation) " +
                          "at epoch 2, step 3 of 4", ex.Message);
        Assert.All(saved, ck => Assert.True(BitConverter.ToInt32(ck.ModelState) < 7, "no checkpoint holds the exploded state"));
    }

    [Fact]
    public void AResumedRunDecidesExactlyAsTheUninterruptedOne()
    {
        // the reference (first step's loss) and the first breach inside the epoch travel in the checkpoint
        // first step 0.2 → bound 200; epoch 2: step 2 at 150 (below), steps 3-4 at 1000 (above): mean (0.3 + 450 + 4000)/10 = 445.03
        Func<int, double> loss = s => s switch { 1 => 0.2, < 6 => 0.1, 6 => 150, _ => 1000 };
        var full = Assert.Throws<TrainingDivergedException>(() => NewTrainer().Fit(new Scripted(loss, _ => 0.1), Train(), null, TestContext.Current.CancellationToken));
        Assert.Equal((2, 3), (full.Epoch, full.Step));
        Assert.Contains("averaged 445.03 over the epoch", full.Message);
        var trainer = NewTrainer();
        trainer.CheckpointEverySteps = 1;
        TrainerCheckpoint? atStep3 = null;
        trainer.Checkpoint += ck => { if (ck.Epoch == 2 && ck.Step == 3) atStep3 = TrainerCheckpoint.FromBytes(ck.ToBytes(), "memory"); };
        Assert.Throws<TrainingDivergedException>(() => trainer.Fit(new Scripted(loss, _ => 0.1), Train(), null, TestContext.Current.CancellationToken));
        Assert.NotNull(atStep3);
        Assert.Equal(0.2, atStep3.InitialLoss, 12);
        Assert.Equal(3, atStep3.LossBreachStep);
        var resumed = Assert.Throws<TrainingDivergedException>(() => NewTrainer().Fit(new Scripted(loss, _ => 0.1), Train(), null, TestContext.Current.CancellationToken, resume: atStep3));
        Assert.Equal(full.Message, resumed.Message);
    }

    [Fact]
    public void ACheckpointWithoutTheDivergenceReferencesStillReads()
    {
        var ck = new TrainerCheckpoint
        {
            Epoch = 2, Step = 0, ShuffleStateAtEpochStart = [1, 2, 3, 4], NegativeState = [5, 6, 7, 8], EpochLossSoFar = 0, EpochSecondsSoFar = 0,
            BestValue = double.NegativeInfinity, BestEpoch = 0, BadEvaluations = 0, TrainSeconds = 0, EvalSeconds = 0, Epochs = [], ModelState = [1],
        };
        var back = TrainerCheckpoint.FromBytes(ck.ToBytes(), "memory");
        Assert.True(double.IsNaN(back.InitialLoss));
        Assert.True(double.IsNaN(back.InitialMaxAbs));
        Assert.Equal(0, back.LossBreachStep);
        var with = TrainerCheckpoint.FromBytes(new TrainerCheckpoint
        {
            Epoch = 2, Step = 1, ShuffleStateAtEpochStart = [1, 2, 3, 4], NegativeState = [5, 6, 7, 8], EpochLossSoFar = 0, EpochSecondsSoFar = 0,
            BestValue = 0.5, BestEpoch = 1, BadEvaluations = 0, TrainSeconds = 0, EvalSeconds = 0, Epochs = [], ModelState = [1],
            InitialLoss = 0.75, InitialMaxAbs = 0.25, LossBreachStep = 1,
        }.ToBytes(), "memory");
        Assert.Equal((0.75, 0.25, 1), (with.InitialLoss, with.InitialMaxAbs, with.LossBreachStep));
    }

    [Fact]
    public void ABatchLargerThanTheTrainingSetIsTheTrainingSet()
    {
        var model = new Scripted(_ => 1, _ => 0.1);
        var outcome = new Trainer(new TrainConfig { Epochs = 2, BatchSize = int.MaxValue, Seed = 1, Threads = 1, Patience = 0 }).Fit(model, Train(), null, TestContext.Current.CancellationToken);
        Assert.All(outcome.Epochs, e => Assert.Equal(1, e.Steps));
        Assert.Equal(2, model.Steps);
    }

    // ---- real processes ------------------------------------------------------------------------------------------

    /// <summary>`lrml train --set learning_rate=1e6` used to exit 0 with near-random metrics (LRML on both engines, NeuMF,
    /// TransCF): it now stops at the first step (Adam moves every parameter by about the learning rate, so the first
    /// update explodes them; TransCF projects its rows back every epoch, and its loss is what explodes at step 2).</summary>
    [Theory]
    [InlineData("lrml", "fused", "A model parameter exploded", 1)]
    [InlineData("lrml", "torch", "A model parameter exploded", 1)]
    [InlineData("neumf", null, "A model parameter exploded", 1)]
    [InlineData("transcf", null, "The loss per training positive rose above", 2)]
    public void ALearningRateOfAMillionStopsAtItsFirstBadStep(string model, string? engine, string what, int step)
    {
        string root = Directory.CreateTempSubdirectory("lrml-finite").FullName;
        string run = Path.Combine(root, "run");
        var args = new List<string> { "train", "--dataset", "synthetic", "--model", model, "--set", "learning_rate=1e6", "--epochs", "2",
            "--no-full-ranking", "--out", run };
        if (engine is not null) args.AddRange(["--engine", engine]);
        var (code, stdout, stderr) = CliRunner.Run(root, [.. args]);
        Assert.Equal(1, code);
        string error = CliRunner.SingleErrorLine(stdout, stderr);
        Assert.StartsWith("error: " + what, error);
        Assert.Matches(new Regex($@"at epoch 1, step {step} of \d+"), error);
        Assert.False(File.Exists(Path.Combine(run, "result.json")));
    }

    [Fact]
    public void AnInfiniteLearningRateIsRefusedBeforeTraining()
    {
        string root = Directory.CreateTempSubdirectory("lrml-finite").FullName;
        var (code, stdout, stderr) = CliRunner.Run(root, "train", "--dataset", "synthetic", "--model", "lrml", "--set", "learning_rate=Infinity",
            "--out", Path.Combine(root, "run"));
        Assert.Equal(2, code);   // a bad setting is a usage error, refused before any data is read (issue 12)
        Assert.StartsWith("error: Bad setting learning_rate=Infinity: LearningRate must be a finite number > 0", CliRunner.SingleErrorLine(stdout, stderr));
    }

    /// <summary>A run that finishes no better than popularity on validation is flagged in result.json and warned about;
    /// a trained one is not.</summary>
    [Fact]
    public void ARunNoBetterThanPopularityIsFlaggedAndWarned()
    {
        string root = Directory.CreateTempSubdirectory("lrml-pop").FullName;
        string weak = Path.Combine(root, "weak"), good = Path.Combine(root, "good");
        var (code, stdout, stderr) = CliRunner.Run(root, "train", "--dataset", "synthetic", "--model", "bpr", "--set", "learning_rate=1e-7",
            "--epochs", "1", "--no-full-ranking", "--out", weak);
        Assert.True(code == 0, stderr);
        var result = JsonNode.Parse(File.ReadAllText(Path.Combine(weak, "result.json")))!;
        Assert.True((bool)result["no_better_than_popularity"]!);
        var baseline = result["popularity_baseline"]!;
        Assert.Equal("nDCG@10", (string)baseline["metric"]!);
        Assert.True((double)baseline["model"]! <= (double)baseline["popularity"]!);
        Assert.Contains($"warning: BPR-MF ended no better than popularity on validation (nDCG@10 {(double)baseline["model"]!:F4} vs popularity " +
                        $"{(double)baseline["popularity"]!:F4} on the same candidates)", stdout.ReplaceLineEndings(" ").Replace("  ", " "));

        (code, stdout, stderr) = CliRunner.Run(root, "train", "--dataset", "synthetic", "--model", "lrml", "--epochs", "20", "--no-full-ranking", "--out", good);
        Assert.True(code == 0, stderr);
        result = JsonNode.Parse(File.ReadAllText(Path.Combine(good, "result.json")))!;
        Assert.False((bool)result["no_better_than_popularity"]!);
        Assert.True((double)result["popularity_baseline"]!["model"]! > (double)result["popularity_baseline"]!["popularity"]!);
        Assert.DoesNotContain("no better than popularity", stdout);
    }
}
