using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Reproduction.Plots;
using Lrml.Reproduction;
using Lrml.Notebooks;
using Lrml.Tests.Reproduction.Tables;

namespace Lrml.Tests.Notebooks;

/// <summary>How reproduction results show in notebooks, and what the experiment notebooks must contain.</summary>
public class ReproductionHtmlTests
{
    [Fact]
    public void NamedCharts_RenderAsChartDivs_AListAsOneDivPerChart()
    {
        var charts = MainTable.Charts(ReproductionChartsTests.MainTableByHand());
        Assert.True(KitFormatters.TryFormat(charts[0], out string one));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(one, "class=\"" + PlotlyHtml.ChartClass + "\""));
        Assert.True(KitFormatters.TryFormat(charts, out string both));                 // IReadOnlyList<NamedChart>
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(both, "class=\"" + PlotlyHtml.ChartClass + "\"").Count);
        Assert.Contains("\"name\":\"CML\"", both);
    }

    [Fact]
    public void Findings_RenderAsAList_BoldAndCodeMarkup_TextEncoded()
    {
        var f = new Findings("What <we> found", ["**LRML** beats `cml` by 6 % & more", "plain"]);
        Assert.True(KitFormatters.TryFormat(f, out string html));
        Assert.Contains("What &lt;we&gt; found", html);
        Assert.Contains("<li><b>LRML</b> beats <code>cml</code> by 6 % &amp; more</li>", html);
        Assert.Contains("<li>plain</li>", html);
        Assert.Equal("## What <we> found\n\n- **LRML** beats `cml` by 6 % & more\n- plain\n", f.ToMarkdown());
    }

    [Fact]
    public void AblationResult_ShowsItsTableAndItsChart()
    {
        var spec = new AblationSpec("memory", "Memory trained or frozen", "train_memory", ["true", "false"], false);
        var t = new ResultTable("Memory trained or frozen (train_memory)", "train_memory", "HR@10", "HR@10 std", "nDCG@10", "nDCG@10 std", "seeds");
        t.AddRow(("train_memory", "true"), ("HR@10", 0.5), ("HR@10 std", 0.01), ("nDCG@10", 0.3), ("nDCG@10 std", 0.02), ("seeds", 2));
        t.AddRow(("train_memory", "false"), ("HR@10", 0.4), ("HR@10 std", 0.01), ("nDCG@10", 0.2), ("nDCG@10 std", 0.02), ("seeds", 2));
        Assert.True(KitFormatters.TryFormat(new AblationResult(spec, t, "reading", []), out string html));
        Assert.Contains("Memory trained or frozen (train_memory)", html);
        Assert.Contains(">0.3</td>", html);
        Assert.Contains("class=\"" + PlotlyHtml.ChartClass + "\"", html);
    }

    [Fact]
    public void ExpectedCharts_ReadFromNotebookMetadata()
    {
        Assert.Equal(3, NotebookDocument.ExpectedCharts(JsonNode.Parse("""{"cells":[],"metadata":{"lrml":{"charts":3}}}""")!.AsObject()));
        Assert.Null(NotebookDocument.ExpectedCharts(JsonNode.Parse("""{"cells":[],"metadata":{}}""")!.AsObject()));
        Assert.Throws<InvalidDataException>(() => NotebookDocument.ExpectedCharts(JsonNode.Parse("""{"cells":[],"metadata":{"lrml":{"charts":"three"}}}""")!.AsObject()));
        Assert.Throws<InvalidDataException>(() => NotebookDocument.ExpectedCharts(JsonNode.Parse("""{"cells":[],"metadata":{"lrml":{"charts":-1}}}""")!.AsObject()));
    }

    [Fact]
    public void ExperimentNotebooks_FollowTheStructure_AndDeclareTheirCharts()
    {
        string repo = DataDirectory.FindRepositoryRoot(AppContext.BaseDirectory) ?? throw new InvalidOperationException("repository root not found");
        var expected = new Dictionary<string, (string Call, int Charts)>
        {
            ["01-main-results.ipynb"] = ("MainTable.Run(", MainTable.Charts(ReproductionChartsTests.MainTableByHand()).Count),
            ["02-ablations.ipynb"] = ("Ablations.Run(", Ablations.For(Profile.Quick).Count + 2),   // + the memory-usage chart and its per-epoch curves
            ["04-dynamics-and-cost.ipynb"] = ("Dynamics.Run(", Dynamics.Charts(ReproductionChartsTests.CurvesByHand(), ReproductionChartsTests.CostByHand()).Count),
        };
        foreach (var (file, (call, charts)) in expected)
        {
            var nb = NotebookDocument.Load(Path.Combine(repo, "notebooks", file));
            var cells = NotebookDocument.Cells(nb);
            Assert.Equal(charts, NotebookDocument.ExpectedCharts(nb));
            Assert.Equal("markdown", (string?)cells[0]!["cell_type"]);
            Assert.StartsWith("# " + file[..2] + " · ", NotebookDocument.Source(cells[0]));
            var code = cells.Where(c => (string?)c!["cell_type"] == "code").Select(NotebookDocument.Source).ToList();
            // one parameters cell reading the runner's settings, then exactly the two setup lines
            Assert.Contains("LRML_PROFILE", code[0]);
            Assert.Contains("LRML_DATA_DIR", code[0]);
            Assert.Contains("LRML_RESULTS_DIR", code[0]);
            Assert.Equal("#r \"../src/Lrml.Cli/bin/Release/net10.0/Lrml.Notebooks.dll\"\nLrml.Notebooks.Notebook.Setup(profile, dataDir)", code[1]);
            // thin: the experiment is one library call, its estimate is said first, its findings are computed
            Assert.Single(code, c => c.Contains(call, StringComparison.Ordinal));
            int estimate = code.FindIndex(c => c.Contains(".Estimate(options, ctx)", StringComparison.Ordinal));
            Assert.True(estimate >= 0 && estimate < code.FindIndex(c => c.Contains(call, StringComparison.Ordinal)), file + ": estimate before the run");
            Assert.Contains(code, c => c.Trim() == "report.Findings()");
            var markdown = cells.Where(c => (string?)c!["cell_type"] == "markdown").Select(NotebookDocument.Source).ToList();
            Assert.Contains(markdown, m => m.Contains("What we found", StringComparison.Ordinal));
            Assert.StartsWith("## References", markdown[^1]);
            Assert.Contains("lrml reproduce", markdown[0]);   // the same experiment from the command line
        }
    }
}
