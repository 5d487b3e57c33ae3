using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Notebooks;

namespace Lrml.Tests.Notebooks;

public class NotebookDocumentTests
{
    /// <summary>A committed notebook as VS Code saves it: Polyglot metadata, cell ids, no outputs.</summary>
    private const string Source = """
        {
         "cells": [
          { "cell_type": "markdown", "id": "title", "metadata": {}, "source": ["# Title"] },
          { "cell_type": "code", "execution_count": null, "id": "setup",
            "metadata": { "dotnet_interactive": { "language": "csharp" }, "polyglot_notebook": { "kernelName": "csharp" } },
            "outputs": [], "source": ["#r \"nuget: Newtonsoft.Json, 13.0.3\"\n", "1 + 1"] },
          { "cell_type": "code", "execution_count": null, "id": "boom",
            "metadata": { "dotnet_interactive": { "language": "csharp" }, "polyglot_notebook": { "kernelName": "csharp" } },
            "outputs": [], "source": ["\n", "throw new InvalidOperationException(\"boom on purpose\");"] },
          { "cell_type": "code", "execution_count": null, "id": "after",
            "metadata": { "dotnet_interactive": { "language": "csharp" }, "polyglot_notebook": { "kernelName": "csharp" } },
            "outputs": [], "source": "\"after\"" }
         ],
         "metadata": {
          "kernelspec": { "display_name": ".NET (C#)", "language": "C#", "name": ".net-csharp" },
          "language_info": { "name": "polyglot-notebook" },
          "polyglot_notebook": { "kernelInfo": { "defaultKernelName": "csharp", "items": [ { "aliases": [], "name": "csharp" } ] } }
         },
         "nbformat": 4,
         "nbformat_minor": 5
        }
        """;

    /// <summary>
    /// The same notebook as dotnet-repl 0.3.259 writes it after --run (recorded here and trimmed): C# language_info,
    /// polyglot_notebook without kernelInfo, dotnet_repl_* timing metadata, no cell ids, "Installing Packages"
    /// progress displays, an error output, null execution counts.
    /// </summary>
    private const string Executed = """
        {
         "cells": [
          { "cell_type": "markdown", "metadata": { "dotnet_repl_cellExecutionStartTime": "2026-01-01T10:00:00+00:00" }, "source": ["# Title"] },
          { "cell_type": "code", "execution_count": null,
            "metadata": { "dotnet_repl_cellExecutionStartTime": "2026-01-01T10:00:00.0000000+00:00", "dotnet_repl_cellExecutionEndTime": "2026-01-01T10:00:05.5000000+00:00",
                          "dotnet_interactive": { "language": "csharp" }, "polyglot_notebook": { "kernelName": "csharp" } },
            "outputs": [
             { "data": { "text/html": ["<div><div></div><div><strong>Installing Packages</strong><ul><li><span>Newtonsoft.Json</span></li></ul></div><div></div></div>"] }, "metadata": {}, "output_type": "display_data" },
             { "data": { "text/html": ["<div><div></div><div><strong>Installing Packages</strong><ul><li><span>Newtonsoft.Json.</span></li></ul></div><div></div></div>"] }, "metadata": {}, "output_type": "display_data" },
             { "data": { "text/html": ["<div><div></div><div></div><div><strong>Installed Packages</strong><ul><li><span>Newtonsoft.Json, 13.0.3</span></li></ul></div></div>"] }, "metadata": {}, "output_type": "display_data" },
             { "data": { "text/plain": ["2"] }, "metadata": {}, "output_type": "execute_result" }
            ],
            "source": ["#r \"nuget: Newtonsoft.Json, 13.0.3\"\n", "1 + 1"] },
          { "cell_type": "code", "execution_count": null,
            "metadata": { "dotnet_repl_cellExecutionStartTime": "2026-01-01T10:00:05.5000000+00:00", "dotnet_repl_cellExecutionEndTime": "2026-01-01T10:00:06.0000000+00:00",
                          "dotnet_interactive": { "language": "csharp" }, "polyglot_notebook": { "kernelName": "csharp" } },
            "outputs": [
             { "ename": "Error", "evalue": "System.InvalidOperationException: boom on purpose\n   at Submission#2.<<Initialize>>d__0.MoveNext()", "output_type": "error", "traceback": ["   at Submission#2"] }
            ],
            "source": ["\n", "throw new InvalidOperationException(\"boom on purpose\");"] },
          { "cell_type": "code", "execution_count": null,
            "metadata": { "dotnet_repl_cellExecutionStartTime": "2026-01-01T10:00:06.0000000+00:00", "dotnet_repl_cellExecutionEndTime": "2026-01-01T10:00:06.2500000+00:00",
                          "dotnet_interactive": { "language": "csharp" }, "polyglot_notebook": { "kernelName": "csharp" } },
            "outputs": [ { "data": { "text/plain": ["after"] }, "metadata": {}, "output_type": "display_data" } ],
            "source": ["\"after\"\n"] }
         ],
         "metadata": {
          "kernelspec": { "display_name": ".NET (C#)", "language": "C#", "name": ".net-csharp" },
          "language_info": { "file_extension": ".cs", "mimetype": "text/x-csharp", "name": "C#", "pygments_lexer": "csharp", "version": "13.0" },
          "polyglot_notebook": { "defaultKernelName": "csharp", "items": [ { "name": "csharp" } ] }
         },
         "nbformat": 4,
         "nbformat_minor": 5
        }
        """;

    private static JsonObject Parse(string json) => JsonNode.Parse(json)!.AsObject();

    [Fact]
    public void RestoreAfterRun_GivesBackTheVsCodeNotebook()
    {
        var nb = NotebookDocument.RestoreAfterRun(Parse(Executed), Parse(Source), out int dropped);
        Assert.Equal(2, dropped);
        var meta = nb["metadata"]!;
        Assert.Equal(".net-csharp", (string?)meta["kernelspec"]!["name"]);
        Assert.Equal("polyglot-notebook", (string?)meta["language_info"]!["name"]);
        Assert.Equal("csharp", (string?)meta["polyglot_notebook"]!["kernelInfo"]!["defaultKernelName"]);
        var cells = NotebookDocument.Cells(nb);
        Assert.Equal(["title", "setup", "boom", "after"], cells.Select(c => (string?)c!["id"]));
        foreach (var cell in cells)
            Assert.DoesNotContain(cell!["metadata"]!.AsObject(), p => p.Key.StartsWith("dotnet_repl_", StringComparison.Ordinal));
        foreach (var code in cells.Where(c => (string?)c!["cell_type"] == "code"))
            Assert.Equal("csharp", (string?)code!["metadata"]!["polyglot_notebook"]!["kernelName"]);
        var setupOutputs = cells[1]!["outputs"]!.AsArray();
        Assert.Equal(2, setupOutputs.Count);                                       // "Installed Packages" summary and the result stay
        Assert.Contains("Installed Packages", setupOutputs[0]!.ToJsonString());
        Assert.Equal([1, 2, 3], cells.Skip(1).Select(c => (int)c!["execution_count"]!));
        Assert.Equal(1, (int)setupOutputs[1]!["execution_count"]!);                 // execute_result carries its count
        Assert.Empty(NotebookDocument.CheckCommitted(Parse(Source)));
        Assert.Contains(NotebookDocument.CheckCommitted(nb), p => p.Contains("output", StringComparison.Ordinal));
    }

    [Fact]
    public void RestoreWithoutSource_StillAppliesPolyglotMetadata()
    {
        var nb = NotebookDocument.RestoreAfterRun(Parse(Executed), null, out _);
        Assert.Equal("polyglot-notebook", (string?)nb["metadata"]!["language_info"]!["name"]);
        Assert.Equal("csharp", (string?)nb["metadata"]!["polyglot_notebook"]!["kernelInfo"]!["defaultKernelName"]);
        Assert.Null(NotebookDocument.Cells(nb)[1]!["metadata"]!["dotnet_repl_cellExecutionStartTime"]);
    }

    [Fact]
    public void Errors_NameTheFailingCell()
    {
        var errors = NotebookDocument.Errors(Parse(Executed));
        var e = Assert.Single(errors);
        Assert.Equal(3, e.Cell);
        Assert.Equal(2, e.CodeCell);
        Assert.Equal("throw new InvalidOperationException(\"boom on purpose\");", e.FirstLine);
        Assert.Equal("Error: System.InvalidOperationException: boom on purpose", e.Error);
    }

    [Fact]
    public void Timings_ReadFromDotnetReplMetadata()
    {
        var t = NotebookDocument.Timings(Parse(Executed));
        Assert.Equal([2, 3, 4], t.Select(x => x.Cell));
        Assert.Equal(5.5, t[0].Seconds, 9);
        Assert.Equal(0.25, t[2].Seconds, 9);
    }

    [Fact]
    public void SaveWritesJupyterStyleJson_AndLoadRejectsNonNotebooks()
    {
        string dir = Directory.CreateTempSubdirectory("lrml-nb").FullName;
        try
        {
            string path = Path.Combine(dir, "x.ipynb");
            var nb = Parse(Source);
            NotebookDocument.Save(nb, path);
            string text = File.ReadAllText(path);
            Assert.StartsWith("{\n \"cells\": [\n  {", text);       // one-space indent like Jupyter and VS Code
            Assert.EndsWith("}\n", text);
            Assert.Contains("#r \"nuget: Newtonsoft.Json, 13.0.3\"", NotebookDocument.Source(NotebookDocument.Load(path)["cells"]![1]));
            File.WriteAllText(path, "{\"not\": \"a notebook\"}");
            Assert.Contains("not a Jupyter notebook", Assert.Throws<InvalidDataException>(() => NotebookDocument.Load(path)).Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void CommittedNotebooks_HaveNoOutputsAndTheVsCodeMetadata()
    {
        string repo = DataDirectory.FindRepositoryRoot(AppContext.BaseDirectory) ?? throw new InvalidOperationException("repository root not found");
        var notebooks = Directory.GetFiles(Path.Combine(repo, "notebooks"), "*.ipynb");
        Assert.Contains(notebooks, n => Path.GetFileName(n) == "00-setup-and-data.ipynb");
        foreach (var path in notebooks)
        {
            var problems = NotebookDocument.CheckCommitted(NotebookDocument.Load(path));
            Assert.True(problems.Count == 0, $"{Path.GetFileName(path)}: {string.Join("; ", problems)}");
            Assert.Matches(@"^\d\d[a-z]?-[a-z0-9-]+\.ipynb$", Path.GetFileName(path));
        }
    }

    [Fact]
    public void CommittedNotebooks_ReferenceTheKitTheSameWay_AndCallSetupOnce()
    {
        string repo = DataDirectory.FindRepositoryRoot(AppContext.BaseDirectory)!;
        foreach (var path in Directory.GetFiles(Path.Combine(repo, "notebooks"), "*.ipynb"))
        {
            var code = NotebookDocument.Cells(NotebookDocument.Load(path))
                .Where(c => (string?)c!["cell_type"] == "code").Select(NotebookDocument.Source).ToList();
            string all = string.Join("\n", code);
            Assert.Contains("#r \"../src/Lrml.Cli/bin/Release/net10.0/Lrml.Notebooks.dll\"", all);
            Assert.Single(code, c => c.Contains("Notebook.Setup(", StringComparison.Ordinal));
            Assert.Contains("LRML_PROFILE", all);   // the parameters cell reads the runner's profile
        }
    }

    [Fact]
    public void EveryNotebookThatRunsExperiments_WritesWhereTheRunnerSays()
    {
        // a notebook that ignored LRML_RESULTS_DIR reused the repository's results/ and could pass CI on stale runs
        string repo = DataDirectory.FindRepositoryRoot(AppContext.BaseDirectory)!;
        foreach (var path in Directory.GetFiles(Path.Combine(repo, "notebooks"), "*.ipynb"))
        {
            var code = NotebookDocument.Cells(NotebookDocument.Load(path))
                .Where(c => (string?)c!["cell_type"] == "code").Select(NotebookDocument.Source).ToList();
            string all = string.Join("\n", code);
            string name = Path.GetFileName(path);
            Assert.False(all.Contains("ExperimentContext.Default(", StringComparison.Ordinal),
                $"{name}: builds its context with ExperimentContext.Default, which ignores LRML_RESULTS_DIR; use env.Context(resultsDir)");
            if (!all.Contains(".Run(", StringComparison.Ordinal)) continue;
            Assert.True(all.Contains("LRML_RESULTS_DIR", StringComparison.Ordinal), $"{name}: its parameters cell does not read LRML_RESULTS_DIR");
            Assert.True(all.Contains("env.Context(resultsDir)", StringComparison.Ordinal), $"{name}: runs experiments without env.Context(resultsDir)");
        }
    }
}
