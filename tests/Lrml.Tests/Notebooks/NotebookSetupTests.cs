using Lrml.Data;
using Lrml.Notebooks;
using Lrml.Protocols;
using Lrml.Tests.Data;

namespace Lrml.Tests.Notebooks;

public class NotebookSetupTests
{
    [Fact]
    public void Setup_OutsideAKernel_PreloadsTorchAndSummarises()
    {
        var env = Notebook.Setup("quick", dataDirectory: Path.GetTempPath());
        Assert.Same(env, Notebook.Current);
        Assert.Empty(env.Warnings);
        var rows = env.Rows.ToDictionary(r => r.Key, r => r.Value);
        Assert.Equal("quick", rows["profile"]);
        Assert.Equal("not a notebook kernel", rows["kernel"]);
        Assert.Contains("libLibTorchSharp", rows["TorchSharp"]);
        Assert.Contains("libtorch 2.", rows["TorchSharp"]);
        Assert.Contains(PlotlyHtml(), rows["Plotly.NET"]);
        Assert.Equal(Path.GetFullPath(Path.GetTempPath()), env.DataDirectory.Root);
        Assert.True(env.Has("synthetic"));                     // always available (embedded)
        Assert.Contains("<table", env.ToHtml());
        Assert.Contains("Environment", env.ToString());

        static string PlotlyHtml() => "plotly.js " + Lrml.Reproduction.Plots.PlotlyHtml.PlotlyJsVersion;
    }

    [Fact]
    public void Profiles_AreValidated()
    {
        Assert.Equal("full", Notebook.CheckProfile("full"));
        var ex = Assert.Throws<ArgumentException>(() => Notebook.Setup("fast", loadTorch: false));
        Assert.Contains("quick, full", ex.Message);
    }

    [Theory]
    [InlineData("LibTorchSharp", "LibTorchSharp")]
    [InlineData("libLibTorchSharp.so", "LibTorchSharp")]
    [InlineData("/opt/x/libtorch.so", "torch")]
    [InlineData("libtorch", "torch")]
    [InlineData("torch.dll", "torch")]
    [InlineData("libc10.so.2", "c10")]
    public void NativeLibraryNames_NormaliseTheWayTorchSharpAsks(string name, string key) => Assert.Equal(key, TorchNatives.Key(name));

    [Fact]
    public void DependencyResolution_UsesTheKitCopyOnlyWhereTheHostIsOlder()
    {
        // In the test process the host (default context) already has every kit assembly in the kit's own version, so the
        // kit context must defer to it; FSharp.Core is the one the notebook hosts ship older (10.0 < 10.1).
        var host = KitAssemblies.HostVersion("FSharp.Core");
        string kitPath = Path.Combine(KitAssemblies.Directory, "FSharp.Core.dll");
        Assert.Equal(KitAssemblies.FileVersion(kitPath), host);
        Assert.True(KitAssemblies.FileVersion(kitPath) >= new Version(10, 1), "Plotly.NET 6 needs FSharp.Core ≥ 10.1");
        Assert.Null(KitAssemblies.HostVersion("No.Such.Assembly"));
        Assert.Null(KitAssemblies.FileVersion(Path.Combine(KitAssemblies.Directory, "runtimes", "linux-x64", "native", "libtorch.so")));
    }

    [Fact]
    public void ProtocolIllustration_LeaveLastOut_HeldOutItemsAreTheLatest_Synthetic()
    {
        var data = SyntheticData.Generate(new SyntheticOptions { Users = 40, Items = 60, Seed = 11 }).Data;
        var split = LeaveLastOut.Build(data, new LeaveLastOutOptions { SampledNegatives = 9 }, seed: 5);
        var ill = ProtocolIllustration.For(data, split, trainShown: 4, candidatesShown: 3);
        CheckTemporalIllustration(ill, split);
        Assert.Equal(9, ill.TestCandidateCount);
        Assert.Equal(3, ill.Items.Count(i => i.Role == "test candidate"));
        Assert.Contains(">validation candidate</td>", ill.ToHtml());
    }

    [Fact]
    public void ProtocolIllustration_LeaveLastOut_RealMl100k()
    {
        TestData.RequireFolder("ml-100k", "u.data", "u.item");
        var data = Datasets.Load("ml-100k", new DataDirectory(TestData.Root));
        var split = LeaveLastOut.Build(data, new LeaveLastOutOptions { SampledNegatives = 99 }, seed: 2018);
        var ill = ProtocolIllustration.For(data, split, userRawId: "1");
        CheckTemporalIllustration(ill, split);
        Assert.Equal("1", ill.User);
        Assert.Equal(272 - 2, ill.TrainCount);                         // user 1 rated 272 movies
        Assert.Equal(99, ill.TestCandidateCount);
        Assert.All(ill.Items, i => Assert.NotEqual(i.Item, i.Title)); // every movie has a title in u.item
        Assert.Throws<ArgumentException>(() => ProtocolIllustration.For(data, split, userRawId: "no-such-user"));
    }

    private static void CheckTemporalIllustration(ProtocolIllustration ill, Split split)
    {
        var train = ill.Items.Where(i => i.Role == "train").ToList();
        var validation = Assert.Single(ill.Items, i => i.Role == "validation");
        var test = Assert.Single(ill.Items, i => i.Role == "test");
        Assert.All(train, t => Assert.True(t.Time <= validation.Time, $"train {t.Item} at {t.Time} after validation at {validation.Time}"));
        Assert.True(validation.Time <= test.Time);
        Assert.Equal(train.OrderBy(t => t.Time).Select(t => t.Item), train.Select(t => t.Item));  // shown in time order
        var held = new HashSet<string>(ill.Items.Where(i => i.Role is "train" or "validation" or "test").Select(i => i.Item));
        Assert.All(ill.Items.Where(i => i.Role.EndsWith("candidate", StringComparison.Ordinal)),
            c => { Assert.DoesNotContain(c.Item, held); Assert.Null(c.Time); });
        Assert.Equal(1, ill.ValidationCount);
        Assert.Equal(1, ill.TestCount);
        Assert.Equal(split.Protocol, ill.Protocol);
    }
}
