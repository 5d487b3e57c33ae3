namespace Lrml.Tests.Cli;

/// <summary>
/// `lrml train` binds --set and the shortcuts to the model's config record and validates them once, before any data is
/// loaded (issue 12): a bad setting is a one-line error naming it, with exit code 2, even when the dataset is missing
/// (the data folder here is empty: a run that loaded data first would fail on the missing dataset instead).
/// </summary>
public class SettingsCommandLineTests
{
    [Theory]
    [InlineData(new[] { "--set", "dim=0" }, "error: Bad setting dim=0: Dim must be ≥ 1 (got 0).")]
    [InlineData(new[] { "--set", "dim=64", "--slots", "0" }, "error: Bad setting slots=0: Slots must be ≥ 1 (got 0).")]
    [InlineData(new[] { "--model", "bpr", "--slots", "4" }, "error: Unknown setting 'slots' for BprConfig. Valid settings: dim, learning_rate, optimizer, l2, item_bias, init_std.")]
    [InlineData(new[] { "--set", "dim" }, "error: Setting 'dim' is not of the form key=value.")]
    public void ABadSettingIsAOneLineUsageErrorBeforeAnyDataIsRead(string[] args, string expected)
    {
        string empty = Directory.CreateTempSubdirectory("lrml-settings-cli").FullName;
        var (code, output) = LrmlProcess.Run(["train", "--dataset", "ml-100k", "--data-dir", empty, "--results", Path.Combine(empty, "results"), .. args]);
        Assert.Equal(expected, output.Trim());
        Assert.Equal(2, code);
        Assert.False(Directory.Exists(Path.Combine(empty, "results")), "nothing is written for a refused command");
    }
}
