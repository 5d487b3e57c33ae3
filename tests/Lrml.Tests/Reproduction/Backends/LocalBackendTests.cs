using Lrml.Data;
using Lrml.Experiments;
using Lrml.Reproduction;
using Lrml.Reproduction.Backends;
using Lrml.Tests.Data;
using Lrml.Training;

namespace Lrml.Tests.Reproduction.Backends;

public sealed class LocalBackendTests
{
    private sealed class Recorder : IRunObserver
    {
        public List<string> Lines { get; } = new();
        public void Message(string text) => Lines.Add(text);
    }

    [Fact]
    public void EachRunIsAnnouncedAsRunIOfN()
    {
        using var t = new TempDir();
        var recorder = new Recorder();
        var ctx = new ExperimentContext { Data = new DataDirectory(Path.Combine(t.Path, "data")), ResultsRoot = t.Path, Observer = recorder };
        RunSpec Spec(long seed) => new() { Dataset = "synthetic", Model = "pop", Train = new TrainConfig { Epochs = 1, Seed = seed }, FullRanking = false };
        var plan = new[] { new PlannedRun(Spec(1), Path.Combine(t.Path, "a")), new PlannedRun(Spec(2), Path.Combine(t.Path, "b")) { Label = "Trial 2/2: own label" } };

        var ended = LocalBackend.Instance.Run(plan, ctx, t.Path, "main table (quick)");

        Assert.All(ended, r => Assert.Equal(RunState.Finished, r.State));
        Assert.Contains("main table (quick): run 1 of 2 · synthetic · pop · seed 1", recorder.Lines);
        Assert.Contains("Trial 2/2: own label", recorder.Lines);
        Assert.DoesNotContain(recorder.Lines, l => l.Contains("run 2 of 2"));
    }
}
