using Lrml.Cli;
using Lrml.Experiments;
using Lrml.Training;
using Spectre.Console;

namespace Lrml.Tests.Cli;

/// <summary>What the terminal shows: tables that fit the width they are given, and a progress line whose speed and
/// time left come from measured intervals.</summary>
public class TerminalOutputTests
{
    private static string Render(ResultTable t, int width)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Out = new AnsiConsoleOutput(writer),
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 400; // the layout, not Spectre's shrinking, must keep it within the width
        TableRendering.Write(console, t, width);
        return writer.ToString();
    }

    private static ResultTable Wide()
    {
        var t = new ResultTable("main table: ml-100k (leave-last-out), mean ± std over 2 seeds", "dataset", "model");
        string[] metrics = ["HR@10", "nDCG@10", "MRR", "AUC", "full/HR@10", "full/nDCG@10", "full/Recall@10", "full/MAP@10", "seconds/epoch", "epochs"];
        foreach (var m in new[] { "LRML", "CML", "BPR-MF" })
            t.AddRow([("dataset", "ml-100k"), ("model", m), .. metrics.Select((c, i) => (c, (object?)(0.123456 + i)))]);
        foreach (var c in metrics) t.Format(c, "F4");
        return t;
    }

    [Fact]
    public void AWideTableIsCutIntoPartsThatFit100ColumnsAndKeepEveryCell()
    {
        var t = Wide();
        string text = Render(t, 100);
        var lines = text.Split('\n');
        Assert.All(lines, l => Assert.True(l.TrimEnd('\r').Length <= 100, $"{l.Length} columns: {l}"));
        Assert.Contains("(part 1 of", text);
        // every column header and every model name is shown in full, never abbreviated
        foreach (var c in t.Columns) Assert.Contains(c, text);
        Assert.DoesNotContain("…", text);
        // each part repeats the identifying columns: "BPR-MF" appears once per part
        int parts = lines.Count(l => l.Contains("(part "));
        Assert.True(parts >= 2);
        Assert.Equal(parts, lines.Count(l => l.Contains("BPR-MF")));
    }

    /// <summary>A table without rows (a main table run without LRML has no paired tests) prints its title, "no rows" and its
    /// notes — not an empty grid, nor a column of ellipses for a table without columns.</summary>
    [Fact]
    public void AnEmptyTableSaysSoWithItsNotes()
    {
        var noColumns = new ResultTable("Paired tests");
        noColumns.Notes.Add("No paired test: it needs LRML.");
        string text = Render(noColumns, 100);
        Assert.Equal("Paired tests: no rows.\nNo paired test: it needs LRML.\n", text.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("…", Render(new ResultTable("headline", "dataset", "metric"), 100));
        Assert.Contains("headline: no rows.", Render(new ResultTable("headline", "dataset", "metric"), 100));
    }

    /// <summary>Under an epoch line: the memory line only for a model that measured its memory, and an oracle-epoch run's test
    /// metrics on their own line that says they are not used.</summary>
    [Fact]
    public void EpochDiagnosticLinesShowTheMemoryOnlyWhenMeasured()
    {
        var oracleOnly = new Dictionary<string, double> { [Experiment.OraclePrefix + "HR@10"] = 0.5, [Experiment.OraclePrefix + "nDCG@10"] = 0.25 };
        var line = Assert.Single(LineObserver.DiagnosticLines(oracleOnly));
        Assert.Equal("             test (for the oracle-epoch report only): HR@10 0.5000  nDCG@10 0.2500", line);
        var memory = new Dictionary<string, double>(oracleOnly) { ["attention_entropy_ratio"] = 0.99 };
        var lines = LineObserver.DiagnosticLines(memory).ToList();
        Assert.Equal(2, lines.Count);
        Assert.StartsWith("             memory: H/lnN 0.9900", lines[0]);
        Assert.Empty(LineObserver.DiagnosticLines(null));
    }

    [Fact]
    public void ATableThatFitsIsOneTable()
    {
        var t = new ResultTable("small", "model", "HR@10");
        t.AddRow(("model", "LRML"), ("HR@10", 0.5));
        string text = Render(t, 100);
        Assert.DoesNotContain("part", text);
        Assert.Contains("LRML", text);
    }

    [Fact]
    public void ATooNarrowWidthFallsBackToOneBlockPerRow()
    {
        var t = Wide();
        string text = Render(t, 20);
        Assert.Contains("full/nDCG@10  5.1235", text);
        // the title is one line that a terminal wraps; every "column  value" line is short
        Assert.All(text.Split('\n').Skip(1), l => Assert.True(l.TrimEnd('\r').Length <= 40, l));
    }

    [Fact]
    public void TheFirstProgressReportOfAnEpochShowsNoSpeedBecauseItsStartWasNotSeen()
    {
        var rate = new EpochRate();
        // the trainer reports first after 16 batches of 1024: the observer did not see them start
        var (r0, eta0) = rate.Update(new TrainProgress(1, 5, 16, 100, 10, 16 * 1024), nowSeconds: 50.0);
        Assert.Null(r0); Assert.Null(eta0);
        Assert.Contains("measuring", ProgressLine.Format(new TrainProgress(1, 5, 16, 100, 10, 16 * 1024), r0, eta0));
        // 16 more batches in 2 s: 8,192 triples/s, 68 steps left at 0.125 s each
        var (r1, eta1) = rate.Update(new TrainProgress(1, 5, 32, 100, 20, 32 * 1024), nowSeconds: 52.0);
        Assert.Equal(16 * 1024 / 2.0, r1!.Value, 6);
        Assert.Equal(68 * 0.125, eta1!.Value, 6);
        string line = ProgressLine.Format(new TrainProgress(1, 5, 32, 100, 20, 32 * 1024), r1, eta1);
        Assert.Contains("8.2k triples/s", line);
        Assert.Contains("ETA 9s", line);
        // a new epoch starts measuring again
        Assert.Null(rate.Update(new TrainProgress(2, 5, 16, 100, 10, 16 * 1024), 60.0).Rate);
    }

    [Theory]
    [InlineData(999, "999")]
    [InlineData(2_500_000, "2.50M")]
    [InlineData(40_960, "41.0k")]
    public void RatesAreShownWithTheirUnit(double perSecond, string expected) => Assert.Equal(expected, ProgressLine.FormatRate(perSecond));

    [Theory]
    [InlineData(42, "42s")]
    [InlineData(185, "3m05s")]
    [InlineData(3720, "1h02m")]
    public void DurationsAreShort(double seconds, string expected) => Assert.Equal(expected, ProgressLine.FormatDuration(seconds));
}
