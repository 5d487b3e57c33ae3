using Lrml.Data;
using Lrml.Experiments;
using Lrml.Models;
using Lrml.Training;

namespace Lrml.Tests.Experiments;

/// <summary>A finished run drops its resumable checkpoint (only an interrupted run needs it) and keeps the model evaluated on
/// test in best.ckpt; <see cref="ExperimentContext.KeepCheckpoints"/> keeps it, and is not part of a run's identity.</summary>
public sealed class CheckpointCleanupTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lrml-ckclean").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private ExperimentContext Context(bool keep = false, IRunObserver? observer = null) => new()
    {
        Data = new DataDirectory(Path.Combine(_root, "no-data")), ResultsRoot = _root, KeepCheckpoints = keep,
        Observer = observer ?? new RecordingObserver(),
    };

    private static RunSpec Spec(int epochs = 3, int evalEvery = 1) => new()
    {
        Dataset = "synthetic", Model = "bpr", Settings = ConfigBinder.ParsePairs(["dim=8"]),
        Train = new TrainConfig { Epochs = epochs, BatchSize = 512, Seed = 5, Threads = 1, EvalEvery = evalEvery, Patience = 0 },
    };

    private string Ck(string dir) => Path.Combine(dir, Experiment.CheckpointFile);

    [Fact]
    public void AFinishedRunHasBestCkptButNoCheckpointAndKeepCheckpointsKeepsBoth()
    {
        string dropped = Path.Combine(_root, "dropped"), kept = Path.Combine(_root, "kept");
        var a = Experiment.Run(Spec(), Context(), dropped);
        var b = Experiment.Run(Spec(), Context(keep: true), kept);
        Assert.False(File.Exists(Ck(dropped)));
        Assert.True(File.Exists(Path.Combine(dropped, "best.ckpt")));
        Assert.True(File.Exists(Ck(kept)));
        Assert.Equal(File.ReadAllBytes(Path.Combine(kept, "best.ckpt")), File.ReadAllBytes(Path.Combine(dropped, "best.ckpt")));
        Assert.Equal(a.Result.Metrics, b.Result.Metrics);
        // the dropped file is the large one: parameters and optimiser state at the last epoch, and the best state again
        Assert.True(new FileInfo(Ck(kept)).Length > new FileInfo(Path.Combine(kept, "best.ckpt")).Length);
        Assert.True((bool)System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(kept, "config.json")))!["keep_checkpoints"]!);
        // --resume on the finished run says so (not that the checkpoint is merely missing)
        Assert.Contains("the run there has finished", Assert.Throws<IOException>(() => Experiment.Run(Spec(), Context(), dropped, resume: true)).Message);
    }

    [Fact]
    public void WithoutValidationBestCkptHoldsTheLastEpochTheModelEvaluatedOnTest()
    {
        string dir = Path.Combine(_root, "noval");
        Experiment.Run(Spec(evalEvery: 0), Context(keep: true), dir);
        var ck = TrainerCheckpoint.FromBytes(File.ReadAllBytes(Ck(dir)), Ck(dir));
        Assert.Null(ck.BestState);                                       // no validation: the trainer kept no best state
        Assert.Equal(ck.ModelState, File.ReadAllBytes(Path.Combine(dir, "best.ckpt")));   // the final state, as trained
    }

    [Fact]
    public void KeepCheckpointsIsNotPartOfTheIdentityAStoredRunIsReused()
    {
        string dir = Path.Combine(_root, "stored");
        var observer = new RecordingObserver();
        RunStore.RunOrLoad(Spec(), Context(), dir);
        RunStore.RunOrLoad(Spec(), Context(keep: true, observer: observer), dir);
        Assert.Contains(observer.Messages, m => m.StartsWith("Reusing finished run", StringComparison.Ordinal));
        Assert.False(File.Exists(Ck(dir)));
    }

    [Fact]
    public void AnInterruptedRunKeepsItsCheckpointAndResumesToTheUninterruptedResult()
    {
        var reference = Experiment.Run(Spec(), Context(), Path.Combine(_root, "reference"));
        string dir = Path.Combine(_root, "interrupted");
        Assert.Throws<Interrupt>(() => Experiment.Run(Spec(), Context(observer: new InterruptAt(epoch: 2)), dir));
        Assert.False(File.Exists(Path.Combine(dir, "result.json")));
        Assert.Equal(2, TrainerCheckpoint.FromBytes(File.ReadAllBytes(Ck(dir)), Ck(dir)).Epoch);   // epoch 1 done: epoch 2 next

        var resumed = Experiment.Run(Spec(), Context(), dir, resume: true);
        Assert.Equal(reference.Result.Metrics, resumed.Result.Metrics);
        Assert.False(File.Exists(Ck(dir)));                                  // finished now: dropped
        Assert.Equal(File.ReadAllBytes(Path.Combine(_root, "reference", "best.ckpt")), File.ReadAllBytes(Path.Combine(dir, "best.ckpt")));
    }

    private sealed class Interrupt : Exception;

    /// <summary>Stops the run when epoch <c>epoch</c> has been trained, before its checkpoint (as a kill would).</summary>
    private sealed class InterruptAt(int epoch) : IRunObserver
    {
        public void Message(string text) { }
        public void Epoch(EpochRecord record)
        {
            if (record.Epoch == epoch) throw new Interrupt();
        }
    }

    private sealed class RecordingObserver : IRunObserver
    {
        public List<string> Messages { get; } = [];
        public void Message(string text) => Messages.Add(text);
    }
}
