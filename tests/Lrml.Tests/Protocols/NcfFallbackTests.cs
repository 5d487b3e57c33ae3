using Lrml.Data;
using Lrml.Experiments;
using Lrml.Protocols;
using Lrml.Tests.Data;

namespace Lrml.Tests.Protocols;

/// <summary>ML-1M without the published NCF split falls back to random leave-one-out, and says so.</summary>
public sealed class NcfFallbackTests
{
    private sealed class Recorder : IRunObserver
    {
        public List<string> Lines { get; } = new();
        public void Message(string text) => Lines.Add(text);
        public void Warning(string text) => Lines.Add("warning: " + text);
    }

    private static ExperimentContext Context(string root, Recorder r) =>
        new() { Data = new DataDirectory(root), ResultsRoot = Path.Combine(root, "results"), Observer = r };

    [Fact]
    public void WithoutTheNcfFilesTheDefaultProtocolIsRandomLeaveOneOutAndAWarningSaysItIsNotThePapersSplit()
    {
        using var t = new TempDir();
        string ml1m = Path.Combine(t.Path, "data", "ml-1m");
        Directory.CreateDirectory(ml1m);
        File.WriteAllText(Path.Combine(ml1m, "ratings.dat"), "1::1::5::978300760\n");
        var recorder = new Recorder();
        var ctx = Context(Path.Combine(t.Path, "data"), recorder);

        Assert.Equal(RandomLeaveOneOut.ProtocolName, Experiment.DefaultProtocol("ml-1m", ctx));
        string warning = Assert.Single(recorder.Lines);
        Assert.StartsWith("warning: ML-1M without the published NCF test split", warning);
        Assert.Contains("NOT the paper's split", warning);
        Assert.Contains("fetch.sh ml-1m-ncf", warning);
        // once per data root and process: a sweep of many runs does not repeat it
        Experiment.DefaultProtocol("ml-1m", ctx);
        Assert.Single(recorder.Lines);

        // with the published files present the protocol is ncf, without a warning
        Directory.CreateDirectory(Path.Combine(ml1m, "ncf"));
        File.WriteAllText(Path.Combine(ml1m, "ncf", NcfPublic.TestRatingFile), "0\t25\t5\t978824351\n");
        var quiet = new Recorder();
        Assert.Equal(NcfPublic.ProtocolName, Experiment.DefaultProtocol("ml-1m", Context(Path.Combine(t.Path, "data"), quiet)));
        Assert.Empty(quiet.Lines);
        Assert.Equal(Path.Combine(ml1m, "ncf"), NcfPublic.Locate(new DataDirectory(Path.Combine(t.Path, "data"))));
    }
}
