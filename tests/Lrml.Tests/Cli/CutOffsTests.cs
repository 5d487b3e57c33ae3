using Lrml.Cli;

namespace Lrml.Tests.Cli;

public sealed class CutOffsTests
{
    [Fact]
    public void KsAreParsedDistinctAndAscending_AndTheDefaultStaysTen()
    {
        Assert.Equal([5, 10, 20], TrainCommand.CutOffs("20, 5,10,5", "nDCG@10"));
        Assert.Equal([10], TrainCommand.CutOffs(null, "nDCG@10"));
        Assert.Equal([1, 3], TrainCommand.CutOffs("1,3", "nDCG@3"));
    }

    [Fact]
    public void BadCutOffsAndAMissingValidationCutOffAreRefusedBeforeAnyDataIsRead()
    {
        Assert.Contains("'x' is not a cut-off", Assert.ThrowsAny<ArgumentException>(() => TrainCommand.CutOffs("5,x", "nDCG@10")).Message);
        Assert.Contains("'0' is not a cut-off", Assert.ThrowsAny<ArgumentException>(() => TrainCommand.CutOffs("0,10", "nDCG@10")).Message);
        Assert.Contains("leaves out 10", Assert.ThrowsAny<ArgumentException>(() => TrainCommand.CutOffs("5,20", "nDCG@10")).Message);
        // through the command: exit code 2 (a bad option), and no dataset was needed to find out
        var (code, output) = LrmlProcess.Run("train", "--ks", "5,20", "--data-dir", Path.Combine(Path.GetTempPath(), "no-such-data-" + Guid.NewGuid().ToString("N")));
        Assert.Equal(2, code);
        Assert.Contains("leaves out 10", output);
    }
}
