using Lrml.Cli;

namespace Lrml.Tests.Cli;

public sealed class ThreadsDefaultTests
{
    [Fact]
    public void ThreadsDefaultToTheMachinesCores()
    {
        var parsed = LrmlCommandLine.Build().Parse(["train", "--dataset", "synthetic"]);
        Assert.Empty(parsed.Errors);
        Assert.Equal(Environment.ProcessorCount, parsed.GetValue(CommonOptions.Threads));
        Assert.Equal(3, LrmlCommandLine.Build().Parse(["train", "--threads", "3"]).GetValue(CommonOptions.Threads));
        // a 16-core machine gets 16 (it used to get 2), a machine that reports none gets 1
        Assert.Equal(16, CommonOptions.DefaultThreads(16));
        Assert.Equal(1, CommonOptions.DefaultThreads(0));
    }
}
