using Lrml.Data;
using Lrml.Experiments;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Training;

namespace Lrml.Tests.Training;

public class ResumeTests
{
    private static Split SmallSplit()
    {
        var data = SyntheticData.Generate(new SyntheticOptions { Users = 120, Items = 80, InteractionsPerUser = 15, Seed = 3 }).Data;
        return LeaveLastOut.Build(data, new LeaveLastOutOptions { SampledNegatives = 20 }, 5);
    }

    private static (TrainingOutcome Outcome, float[] Scores) Train(Split split, TrainerCheckpoint? resume, Action<Trainer>? hook, int epochs = 4)
    {
        var cfg = new LrmlConfig { Dim = 8, Slots = 3, NegativeRelation = NegativeRelation.Recompute };
        using var model = new LrmlModel(cfg, split.NumUsers, split.NumItems, 11);
        var trainer = new Trainer(new TrainConfig { Epochs = epochs, BatchSize = 64, Seed = 9, Threads = 1, Patience = 2 });
        hook?.Invoke(trainer);
        var outcome = trainer.Fit(model, split.Train,
            m => Lrml.Evaluation.Evaluator.Evaluate(m, split, Lrml.Protocols.EvalTarget.Validation, new()).Metrics, resume: resume);
        var users = Enumerable.Range(0, split.NumUsers).ToArray();
        var scores = new float[users.Length * split.NumItems];
        model.ScoreAllItems(users, scores);
        return (outcome, scores);
    }

    [Fact]
    public void ResumingFromAMidEpochCheckpointEqualsTheUninterruptedRunBitForBit()
    {
        var split = SmallSplit();
        var (full, fullScores) = Train(split, null, null);

        TrainerCheckpoint? mid = null;
        Train(split, null, t =>
        {
            t.CheckpointEverySteps = 7;
            t.Checkpoint += ck => { if (ck.Epoch == 2 && ck.Step == 7) mid = TrainerCheckpoint.FromBytes(ck.ToBytes(), "memory"); };
        });
        Assert.NotNull(mid);
        var (resumed, resumedScores) = Train(split, mid, null);

        Assert.Equal(fullScores, resumedScores);
        Assert.Equal(full.BestEpoch, resumed.BestEpoch);
        Assert.Equal(full.Epochs.Select(e => e.Loss), resumed.Epochs.Select(e => e.Loss));
        Assert.Equal(full.Epochs.Select(e => e.Validation!["nDCG@10"]), resumed.Epochs.Select(e => e.Validation!["nDCG@10"]));
    }

    [Fact]
    public void ResumingFromAnEpochEndCheckpointEqualsTheUninterruptedRun()
    {
        var split = SmallSplit();
        var (_, fullScores) = Train(split, null, null);
        TrainerCheckpoint? end2 = null;
        Train(split, null, t => t.Checkpoint += ck => { if (ck.Epoch == 3 && ck.Step == 0) end2 = ck; });
        Assert.NotNull(end2);
        var (_, resumedScores) = Train(split, end2, null);
        Assert.Equal(fullScores, resumedScores);
    }

    [Fact]
    public void CorruptedOrTruncatedCheckpointIsRejectedWithTheFileName()
    {
        var split = SmallSplit();
        TrainerCheckpoint? any = null;
        Train(split, null, t => t.Checkpoint += ck => any ??= ck, epochs: 1);
        var bytes = any!.ToBytes();
        var flipped = (byte[])bytes.Clone();
        flipped[^5] ^= 0xFF;
        Assert.Contains("checksum", Assert.Throws<InvalidDataException>(() => TrainerCheckpoint.FromBytes(flipped, "ck.bin")).Message);
        Assert.Contains("ck.bin", Assert.Throws<InvalidDataException>(() => TrainerCheckpoint.FromBytes(bytes[..(bytes.Length / 2)], "ck.bin")).Message);
    }
}
