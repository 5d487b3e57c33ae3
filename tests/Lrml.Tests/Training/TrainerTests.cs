using Lrml.Models;
using Lrml.Protocols;
using Lrml.Training;

namespace Lrml.Tests.Training;

public class TrainerTests
{
    /// <summary>A model that records every batch and whose "quality" is scripted per epoch.</summary>
    private sealed class RecordingModel(int users, int items) : ITrainableRecommender
    {
        public readonly List<(int u, int p, int n)> Seen = new();
        public int Version; // bumped per step; the state is just this counter
        public double LossPerStep = 1.0;
        public string Name => "recording";
        public int NumUsers => users;
        public int NumItems => items;
        public void ScorePairs(ReadOnlySpan<int> u, ReadOnlySpan<int> i, Span<float> s) => s.Fill(Version);
        public void ScoreAllItems(ReadOnlySpan<int> u, Span<float> s) => s.Fill(Version);
        public double TrainStep(TrainingBatch b)
        {
            for (int k = 0; k < b.Count; k++) Seen.Add((b.Users[k], b.Positives[k], b.Negatives[k * b.NegativesPerPositive]));
            Version++;
            return LossPerStep;
        }
        public byte[] SaveState() => BitConverter.GetBytes(Version);
        public void LoadState(byte[] state) => Version = BitConverter.ToInt32(state);
        public IReadOnlyDictionary<string, object?> Describe() => new Dictionary<string, object?>();
        public void Dispose() { }
    }

    private static UserItems Train() =>
        UserItems.FromPairs(4, 10, new[] { 0, 0, 1, 1, 1, 2, 3, 3, 3, 3 }, new[] { 1, 2, 0, 4, 9, 5, 6, 7, 8, 2 });

    [Fact]
    public void EachEpochVisitsEveryPositiveOnceWithValidNegatives()
    {
        var train = Train();
        var model = new RecordingModel(4, 10);
        var trainer = new Trainer(new TrainConfig { Epochs = 3, BatchSize = 3, Seed = 4, EvalEvery = 0, Threads = 1 });
        var outcome = trainer.Fit(model, train, validate: null, TestContext.Current.CancellationToken);
        Assert.Equal(3, outcome.Epochs.Count);
        Assert.Equal(30, model.Seen.Count);
        for (int e = 0; e < 3; e++)
        {
            var epoch = model.Seen.Skip(e * 10).Take(10).Select(t => (t.u, t.p)).OrderBy(x => x).ToArray();
            var expected = Enumerable.Range(0, 4).SelectMany(u => train[u].ToArray().Select(i => (u, i))).OrderBy(x => x).ToArray();
            Assert.Equal(expected, epoch);
        }
        Assert.All(model.Seen, t => Assert.False(train.Contains(t.u, t.n)));
        Assert.Equal(4, outcome.Epochs[0].Steps); // ceil(10 / 3)
        Assert.Equal(4.0, outcome.Epochs[0].Loss);
    }

    [Fact]
    public void SameSeedSameBatchesDifferentSeedDifferentBatches()
    {
        List<(int, int, int)> Run(long seed)
        {
            var m = new RecordingModel(4, 10);
            new Trainer(new TrainConfig { Epochs = 2, BatchSize = 4, Seed = seed, EvalEvery = 0, Threads = 1 }).Fit(m, Train(), null);
            return m.Seen;
        }
        Assert.Equal(Run(7), Run(7));
        Assert.NotEqual(Run(7), Run(8));
    }

    [Fact]
    public void EarlyStoppingRestoresTheBestEpochState()
    {
        var model = new RecordingModel(4, 10);
        var script = new[] { 0.1, 0.5, 0.4, 0.3, 0.2, 0.9 };
        int call = 0;
        var trainer = new Trainer(new TrainConfig { Epochs = 6, BatchSize = 5, Patience = 2, Seed = 1, Threads = 1 });
        var outcome = trainer.Fit(model, Train(), _ => new Dictionary<string, double> { ["nDCG@10"] = script[call++] }, TestContext.Current.CancellationToken);
        Assert.True(outcome.StoppedEarly);
        Assert.Equal(4, outcome.Epochs.Count);      // epochs 3 and 4 fail to improve on epoch 2
        Assert.Equal(2, outcome.BestEpoch);
        Assert.Equal(0.5, outcome.BestValidation);
        Assert.Equal(4, model.Version);             // 2 steps per epoch, state of epoch 2 restored
    }

    /// <summary>Issue 13 §2b: patience counts only from MinEpochs on — a slow starter whose validation is flat for its first
    /// epochs and then improves is not cut off; the best epoch is still chosen over every epoch.</summary>
    [Fact]
    public void EarlyStoppingWaitsForTheMinimumNumberOfEpochs()
    {
        var script = new[] { 0.1, 0.1, 0.1, 0.1, 0.4, 0.3, 0.2, 0.2 };
        TrainingOutcome Fit(int minEpochs)
        {
            int call = 0;
            var trainer = new Trainer(new TrainConfig { Epochs = 8, BatchSize = 5, Patience = 1, MinEpochs = minEpochs, Seed = 1, Threads = 1 });
            return trainer.Fit(new RecordingModel(4, 10), Train(), _ => new Dictionary<string, double> { ["nDCG@10"] = script[call++] },
                TestContext.Current.CancellationToken);
        }
        var without = Fit(0);
        Assert.Equal((2, 1, 0.1), (without.Epochs.Count, without.BestEpoch, without.BestValidation));   // stopped at the first flat epoch
        var with = Fit(5);
        Assert.True(with.StoppedEarly);
        Assert.Equal((6, 5, 0.4), (with.Epochs.Count, with.BestEpoch, with.BestValidation));   // waited to epoch 5, then patience 1
        Assert.Throws<ArgumentException>(() => new TrainConfig { MinEpochs = -1 }.Validate());
    }

    [Fact]
    public void NonFiniteLossStopsWithEpochAndStep()
    {
        var model = new RecordingModel(4, 10) { LossPerStep = double.NaN };
        var trainer = new Trainer(new TrainConfig { Epochs = 2, BatchSize = 5, Threads = 1, EvalEvery = 0 });
        var ex = Assert.Throws<TrainingDivergedException>(() => trainer.Fit(model, Train(), null, TestContext.Current.CancellationToken));
        Assert.Equal(1, ex.Epoch);
        Assert.Equal(1, ex.Step);
        Assert.Contains("learning rate", ex.Message);
    }
}
