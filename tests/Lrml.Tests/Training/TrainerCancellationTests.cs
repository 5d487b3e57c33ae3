using Lrml.Models;
using Lrml.Protocols;
using Lrml.Training;

namespace Lrml.Tests.Training;

/// <summary>Cancelling <see cref="Trainer.Fit"/> (the notebooks' "stop" button): at an epoch boundary, the best epoch kept.</summary>
public class TrainerCancellationTests
{
    private static UserItems Train() =>
        UserItems.FromPairs(5, 12, new[] { 0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4 }, new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0 });

    private static LrmlModel Model() => new(new LrmlConfig { Dim = 4, Slots = 3, LearningRate = 0.05f }, 5, 12, seed: 3);

    [Fact]
    public void CancelAfterAnEpoch_ReturnsWithTheBestEpochsParameters()
    {
        using var model = Model();
        var trainer = new Trainer(new TrainConfig { Epochs = 10, BatchSize = 4, Seed = 2, Threads = 1, Patience = 0 });
        double[] scripted = [0.1, 0.3, 0.2, 0.25, 0.9];   // epoch 2 is the best before the cancel at epoch 4
        int calls = 0;
        var parametersAt = new Dictionary<int, float[]>();
        using var stop = new CancellationTokenSource();
        trainer.EpochCompleted += e =>
        {
            parametersAt[e.Epoch] = model.ExportParameters().P.ToArray();
            if (e.Epoch == 4) stop.Cancel();
        };
        var outcome = trainer.Fit(model, Train(), _ => new Dictionary<string, double> { ["nDCG@10"] = scripted[calls++] }, stop.Token);

        Assert.True(outcome.Cancelled);
        Assert.False(outcome.StoppedEarly);
        Assert.Equal(4, outcome.Epochs.Count);          // epoch 5 never started
        Assert.Equal(4, calls);
        Assert.Equal(2, outcome.BestEpoch);
        Assert.Equal(0.3, outcome.BestValidation);
        Assert.Equal(parametersAt[2], model.ExportParameters().P);   // the model holds epoch 2, not epoch 4
        Assert.NotEqual(parametersAt[4], parametersAt[2]);
    }

    [Fact]
    public void CancelledBeforeTheFirstEpoch_Throws_AndANeverCancelledRunIsNotMarked()
    {
        using var model = Model();
        var config = new TrainConfig { Epochs = 2, BatchSize = 4, Seed = 2, Threads = 1, EvalEvery = 0 };
        Assert.Throws<OperationCanceledException>(() => new Trainer(config).Fit(model, Train(), null, new CancellationToken(canceled: true)));
        var outcome = new Trainer(config).Fit(model, Train(), null, CancellationToken.None);
        Assert.False(outcome.Cancelled);
        Assert.Equal(2, outcome.Epochs.Count);
    }
}
