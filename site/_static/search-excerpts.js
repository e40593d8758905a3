/* Search results: excerpts from a page's text, not from the theme's buttons (the theme's
   role="main" also holds its header with the light/dark switch, which Sphinx would quote). */
if (typeof Search !== "undefined" && Search.htmlToText) {
  const pageText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    doc
      .querySelectorAll(".bd-header-article, .bd-sidebar-secondary, .onlyprint, .prev-next-area, footer")
      .forEach((el) => el.remove());
    return pageText(doc.documentElement.outerHTML, anchor);
  };
}
