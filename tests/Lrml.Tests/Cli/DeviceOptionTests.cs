using Lrml.Cli;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Tests.Data;

namespace Lrml.Tests.Cli;

public sealed class DeviceOptionTests
{
    [Fact]
    public void DevicesAreCheckedBeforeAnyDataIsRead()
    {
        Assert.Equal("cpu", TrainCommand.CheckDevice("CPU", null));
        Assert.Equal("cuda:1", TrainCommand.CheckDevice("cuda:1", "torch", cudaAvailable: () => true));
        Assert.Contains("not a device", Assert.ThrowsAny<ArgumentException>(() => TrainCommand.CheckDevice("gpu", null)).Message);
        Assert.Contains("CPU only", Assert.ThrowsAny<ArgumentException>(() => TrainCommand.CheckDevice("cuda", "fused", () => true)).Message);
        Assert.Contains("CUDA is not available", Assert.ThrowsAny<ArgumentException>(() => TrainCommand.CheckDevice("cuda", null, () => false)).Message);
        // through the command on this CPU build: exit code 2, no data needed to find out
        var (code, output) = LrmlProcess.Run("train", "--device", "cuda", "--data-dir", Path.Combine(Path.GetTempPath(), "no-data-" + Guid.NewGuid().ToString("N")));
        Assert.Equal(2, code);
        Assert.Contains("CUDA is not available", output);
    }

    [Fact]
    public void TheDeviceIsPartOfARunsIdentityOnlyWhenItIsNotTheCpu()
    {
        using var t = new TempDir();
        var ctx = new ExperimentContext { Data = new DataDirectory(Path.Combine(t.Path, "data")), ResultsRoot = t.Path };
        var cpu = new RunSpec { Dataset = "synthetic", Model = "bpr" };
        var gpu = cpu with { Device = "cuda:0" };
        Assert.Null(RunIdentity.Of(cpu, ctx).Parts["device"]);                 // CPU identities are those of earlier versions
        Assert.Equal("cuda:0", RunIdentity.Of(gpu, ctx).Parts["device"]!.GetValue<string>());
        Assert.NotEqual(RunIdentity.Of(cpu, ctx).Key, RunIdentity.Of(gpu, ctx).Key);
        // a spec file carries it (cluster runs), and a CPU spec's key is unchanged by the new field
        Assert.Equal("cuda:0", RunStore.SpecFromJson(RunStore.SpecJson(gpu)).Device);
        Assert.Null(RunStore.SpecJson(cpu)["device"]);
        Assert.Equal(RunStore.SpecKey(cpu), RunStore.SpecKey(RunStore.SpecFromJson(RunStore.SpecJson(cpu))));
    }
}
