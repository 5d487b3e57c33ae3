using Lrml.Data;
using Lrml.Experiments;
using Lrml.Reproduction;

namespace Lrml.Tests.Reproduction.Tables;

public class RelationsTests
{
    [Fact]
    public void ExtraSettingsTrainTheirOwnModelInTheirOwnFolder_AndTheReportSaysWhetherItsMemoryIsUsed()
    {
        string root = Directory.CreateTempSubdirectory("lrml-rel").FullName;
        try
        {
            var ctx = new ExperimentContext { Data = new DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root };
            var options = new RelationOptions
            {
                Profile = Profile.Quick with { MaxEpochs = 1 }, Dataset = "synthetic", Threads = 1, ProbePairs = 300, ProjectionPoints = 60, ChartImages = false,
                Settings = [new("attention_temperature", "0.001"), new("slots", "4")],
            };
            var report = Relations.Run(options, ctx);
            Assert.Equal(Path.Combine(root, "reproduce", "relations", "quick", "synthetic", "attentiontemperature-0.001+slots-4"), report.OutputDirectory);
            var model = report.Run.Result.Config["model"]!;
            Assert.Equal(0.001, (double)model["attention_temperature"]!, 6);
            Assert.Equal(4, (int)model["slots"]!);                         // the preset's N = 20 replaced, not duplicated
            Assert.Equal(4, report.Usage.Slots);
            Assert.Equal(300, report.Usage.Pairs);
            // τ = 0.001 multiplies the logits by 1000: the attention is far from uniform
            Assert.True(report.Usage.EntropyRatio < Ablations.UsedMemoryEntropyRatio, $"entropy ratio {report.Usage.EntropyRatio}");
            Assert.StartsWith("The analysed model's memory on these 300 pairs: attention entropy / ln N = ", report.Findings[0]);
            Assert.EndsWith("the memory is used: r(u,i) differs between pairs through the attention.", report.Findings[0]);
            Assert.True(File.Exists(Path.Combine(report.OutputDirectory, "probes.csv")));

            // the same model at τ = 1: the attention over 4 slots stays (near) uniform after one epoch
            var plain = Relations.Run(options with { Settings = [new("slots", "4")] }, ctx);
            Assert.True(plain.Usage.EntropyRatio > 0.99, $"entropy ratio {plain.Usage.EntropyRatio}");
            Assert.EndsWith("the memory is **not used**: the attention is (near) uniform, r(u,i) is one translation plus a small pair-dependent part, " +
                            "and the probes of r measure that part.", plain.Findings[0]);
            var both = Relations.CompareProbes(plain, "tau 1", report, "tau 0.001");
            Assert.Equal(plain.Probes.Rows.Count, both.Rows.Count);
            for (int r = 0; r < both.Rows.Count; r++)
            {
                Assert.Equal(plain.Probes.Get(r, "accuracy"), both.Get(r, "tau 1 accuracy"));
                Assert.Equal(report.Probes.Get(r, "accuracy"), both.Get(r, "tau 0.001 accuracy"));   // same probes in the same order
                Assert.Equal(plain.Probes.Get(r, "chance (majority)"), both.Get(r, "chance (majority)"));
            }
        }
        finally { Directory.Delete(root, recursive: true); }
    }
}
